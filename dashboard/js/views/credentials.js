// PLACEHOLDER (replaced before merge)
import { h, replace } from '../dom.js';

export const credentialsView = {
  path: 'credentials',
  label: 'Credentials',
  async render(screen) {
    replace(screen, h('h1', {}, 'Credentials'));
  },
};
