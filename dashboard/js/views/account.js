// PLACEHOLDER (replaced before merge)
import { h, replace } from '../dom.js';

export const accountView = {
  path: 'account',
  label: 'Account',
  async render(screen) {
    replace(screen, h('h1', {}, 'Account'));
  },
};
