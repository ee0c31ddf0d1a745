// PLACEHOLDER (replaced before merge)
import { h, replace } from '../dom.js';

export const workspaceView = {
  path: 'settings',
  label: 'Workspace settings',
  async render(screen) {
    replace(screen, h('h1', {}, 'Workspace settings'));
  },
};
