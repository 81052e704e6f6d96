import { walkAs } from './walk.js';

walkAs('SUPPORT', ['mutation'], false, { index: 2, of: 3 });
