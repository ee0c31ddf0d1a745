// PLACEHOLDER (replaced before merge)
import { h, replace } from '../dom.js';

export const agentUisView = {
  path: 'agent-uis',
  label: 'Agent UIs',
  async render(screen) {
    replace(screen, h('h1', {}, 'Agent UIs'));
  },
};
