import { walkAs } from './walk.js';

walkAs('VIEWER', ['mutation']);
