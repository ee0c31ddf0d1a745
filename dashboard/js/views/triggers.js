// PLACEHOLDER (replaced before merge)
import { h, replace } from '../dom.js';

export const triggersView = {
  path: 'triggers',
  label: 'Webhook triggers',
  async render(screen) {
    replace(screen, h('h1', {}, 'Webhook triggers'));
  },
};
