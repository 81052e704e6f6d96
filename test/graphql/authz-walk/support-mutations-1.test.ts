import { walkAs } from './walk.js';

walkAs('SUPPORT', ['mutation'], false, { index: 0, of: 3 });
