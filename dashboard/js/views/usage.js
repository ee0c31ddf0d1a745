// A key's usage (contract section 11): its requests by outcome over a chosen range, as a bar
// chart with the same figures in a table (for screen readers and for reading exact numbers),
// and its last use: when, from which address, with which client.

import { listAll } from '../api.js';
import { h, replace, uid, when } from '../dom.js';
import { describe } from '../forms.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

// What a bar stacks, bottom up, and how the legend and the table name it.
const OUTCOMES = [
  ['allowed', 'Allowed'],
  ['refused', 'Refused (credential, network or scope)'],
  ['rate_limited', 'Rate limited'],
];

// The figures' columns: every outcome the API counts.
const COLUMNS = [
  ['allowed', 'Allowed'],
  ['refused_credential', 'Refused: credential'],
  ['refused_network', 'Refused: network'],
  ['refused_scope', 'Refused: scope'],
  ['rate_limited', 'Rate limited'],
];

const RANGES = [
  { label: 'Last 24 hours, by hour', hours: 24, granularity: 'hour' },
  { label: 'Last 7 days, by day', hours: 24 * 7, granularity: 'day' },
  { label: 'Last 30 days, by day', hours: 24 * 30, granularity: 'day' },
];

const HOUR_MS = 3600 * 1000;

function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  element.append(...children);
  return element;
}

function stacked(bucket) {
  return {
    allowed: bucket.allowed,
    refused: bucket.refused_credential + bucket.refused_network + bucket.refused_scope,
    rate_limited: bucket.rate_limited,
  };
}

function bucketLabel(start, granularity) {
  const date = new Date(start);
  return granularity === 'hour'
    ? date.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' })
    : date.toLocaleDateString([], { month: 'short', day: 'numeric' });
}

/** The bars, oldest on the left; each with a tooltip of its figures. */
function chart(buckets, granularity, titleId) {
  const width = 640;
  const height = 160;
  const slot = width / Math.max(buckets.length, 1);
  const highest = Math.max(1, ...buckets.map((bucket) => Object.values(stacked(bucket)).reduce((a, b) => a + b, 0)));
  const bars = buckets.map((bucket, index) => {
    const parts = stacked(bucket);
    let top = height;
    const rects = OUTCOMES.filter(([name]) => parts[name] > 0).map(([name]) => {
      const barHeight = (parts[name] / highest) * (height - 4);
      top -= barHeight;
      return svg('rect', {
        class: `bar bar-${name.replace('_', '-')}`,
        x: index * slot + slot * 0.1,
        y: top,
        width: slot * 0.8,
        height: barHeight,
      });
    });
    const summary = OUTCOMES.map(([name, label]) => `${label}: ${parts[name]}`).join(', ');
    return svg('g', {}, svg('title', {}, `${bucketLabel(bucket.start, granularity)}: ${summary}`), ...rects);
  });
  return svg('svg', {
    class: 'usage-chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': titleId,
    preserveAspectRatio: 'none',
  }, svg('line', { class: 'axis', x1: 0, y1: height, x2: width, y2: height }), ...bars);
}

function legend() {
  return h('ul', { class: 'usage-legend plain' }, OUTCOMES.map(([name, label]) =>
    h('li', {}, h('span', { class: `swatch bar-${name.replace('_', '-')}`, 'aria-hidden': 'true' }), label)));
}

function figures(buckets, granularity) {
  const rows = [...buckets].reverse(); // newest first, as the API lists them
  return h('details', { class: 'usage-figures' },
    h('summary', {}, 'Show the figures'),
    h('div', { class: 'table-wrap' }, h('table', {},
      h('caption', { class: 'visually-hidden' }, 'Requests by outcome'),
      h('thead', {}, h('tr', {}, ['Period', ...COLUMNS.map(([, label]) => label)]
        .map((label) => h('th', { scope: 'col' }, label)))),
      h('tbody', {}, rows.map((bucket) => h('tr', {},
        h('td', { 'data-label': 'Period' }, bucketLabel(bucket.start, granularity)),
        COLUMNS.map(([name, label]) => h('td', { 'data-label': label }, String(bucket[name])))))))));
}

function lastUse(key) {
  return h('dl', { class: 'facts' },
    h('dt', {}, 'Last used'), h('dd', {}, when(key.last_used_at)),
    h('dt', {}, 'From address'), h('dd', {}, key.last_used_ip ?? '-'),
    h('dt', {}, 'Client'), h('dd', {}, key.last_used_user_agent ?? '-'));
}

async function draw(slot, key, range, titleId) {
  const to = new Date();
  const from = new Date(to.getTime() - range.hours * HOUR_MS);
  const query = new URLSearchParams({
    from: from.toISOString().replace(/\.\d+Z$/, 'Z'),
    to: to.toISOString().replace(/\.\d+Z$/, 'Z'),
    granularity: range.granularity,
  });
  replace(slot, h('p', { class: 'loading' }, 'Loading usage...'));
  try {
    const buckets = (await listAll(`/api-keys/${encodeURIComponent(key.id)}/usage?${query}`)).reverse();
    const total = buckets.reduce((sum, bucket) => sum + Object.values(stacked(bucket)).reduce((a, b) => a + b, 0), 0);
    replace(slot,
      h('p', { class: 'usage-total' }, `${total} requests in this period.`),
      chart(buckets, range.granularity, titleId),
      legend(),
      figures(buckets, range.granularity));
  } catch (error) {
    replace(slot, h('p', { class: 'form-error', role: 'alert' }, describe(error)));
  }
}

/** The usage panel of `key` (as read just now: its last use), drawing the chosen range's chart. */
export function usagePanel(page, key) {
  const titleId = uid('usage-title');
  const slot = h('div', { class: 'usage-body' });
  const choice = h('select', { name: 'usage_range', id: uid('usage-range') },
    RANGES.map((range, index) => h('option', { value: index }, range.label)));
  choice.addEventListener('change', () => draw(slot, key, RANGES[Number(choice.value)], titleId));
  draw(slot, key, RANGES[0], titleId);
  return h('section', { class: 'card panel usage', 'aria-labelledby': titleId },
    h('h2', { id: titleId }, `Usage of key "${key.name}"`),
    lastUse(key),
    h('div', { class: 'field' }, h('label', { for: choice.id }, 'Period'), choice),
    slot,
    h('div', { class: 'buttons' },
      h('button', { type: 'button', class: 'secondary', onclick: () => page.close() }, 'Close')));
}
