// PLACEHOLDER (replaced before merge)
import { h, replace } from '../dom.js';

export const membersView = {
  path: 'members',
  label: 'Members',
  async render(screen) {
    replace(screen, h('h1', {}, 'Members'));
  },
};
