import { walkAs } from './walk.js';

walkAs('PUBLISHER', ['query', 'subscription']);
