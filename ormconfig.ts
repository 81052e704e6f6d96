import 'reflect-metadata';
import { createDataSource } from './src/storage/data-source.js';

// The DataSource the TypeORM CLI uses (after `npm run build`):
//   DATABASE_URL=postgres://… npx typeorm migration:show -d dist/ormconfig.js
const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL must be set for the TypeORM CLI');

export default createDataSource(url);
