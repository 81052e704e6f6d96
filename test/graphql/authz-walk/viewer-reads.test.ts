import { walkAs } from './walk.js';

walkAs('VIEWER', ['query', 'subscription']);
