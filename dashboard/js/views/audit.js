// PLACEHOLDER (replaced before merge)
import { h, replace } from '../dom.js';

export const auditView = {
  path: 'audit',
  label: 'Audit trail',
  async render(screen) {
    replace(screen, h('h1', {}, 'Audit trail'));
  },
};
