// PLACEHOLDER (replaced before merge)
import { h, replace } from '../dom.js';

export const keysView = {
  path: 'keys',
  label: 'API keys',
  async render(screen) {
    replace(screen, h('h1', {}, 'API keys'));
  },
};
