import { walkAs } from './walk.js';

walkAs('SUPPORT');
