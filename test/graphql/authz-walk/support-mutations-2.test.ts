import { walkAs } from './walk.js';

walkAs('SUPPORT', ['mutation'], false, { index: 1, of: 3 });
