import { walkAs } from './walk.js';

walkAs('SUPPORT', ['query', 'subscription']);
