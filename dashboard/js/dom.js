// Building the page with DOM calls alone: text is always text (no innerHTML), so nothing the API
// returns can become markup, and the CSP's Trusted Types requirement holds.

/**
 * An element: h('button', {type: 'button', onclick: fn}, 'Save').
 * Props: `class`, `for`, `aria-*`, `data-*` and other attributes; `on<event>` listeners;
 * `true`/`false` for boolean attributes; null and undefined are skipped.
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else if (name === 'value' && 'value' in element) {
      element.value = value;
    } else if (name === 'checked' && 'checked' in element) {
      element.checked = Boolean(value);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace an element's children. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  append(parent, children);
  return parent;
}

let counter = 0;
/** A unique id for label/description wiring. */
export function uid(prefix = 'id') {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** A time as the reader's local date and time; "never" for null. */
export function when(value) {
  if (!value) return 'never';
  const date = new Date(value);
  return h('time', { datetime: value, title: value }, date.toLocaleString());
}

/** A table: columns [{label, cell: row => content}], rows, and what to say when empty. */
export function table(caption, columns, rows, empty) {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty);
  return h('div', { class: 'table-wrap' },
    h('table', {},
      h('caption', { class: 'visually-hidden' }, caption),
      h('thead', {}, h('tr', {}, columns.map((column) => h('th', { scope: 'col' }, column.label)))),
      h('tbody', {}, rows.map((row) => h('tr', {},
        columns.map((column) => h('td', { 'data-label': column.label }, column.cell(row))))))));
}

/** A heading with the page's main actions beside it. */
export function pageHeader(title, ...actions) {
  return h('div', { class: 'page-header' }, h('h1', {}, title), h('div', { class: 'actions' }, actions));
}

/** A badge: kind is one of ok, warn, bad, muted. */
export function badge(text, kind = 'muted') {
  return h('span', { class: `badge badge-${kind}` }, text);
}
