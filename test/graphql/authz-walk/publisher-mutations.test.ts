import { walkAs } from './walk.js';

walkAs('PUBLISHER', ['mutation']);
