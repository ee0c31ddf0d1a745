// The authenticator's QR code: an SVG the server draws (segno's `svg_inline`: one <svg> with
// width, height and class around one <path> with transform, class, stroke and d). The CSP requires
// Trusted Types and allows one policy, `railguard-qr`. Its createHTML lets through only markup of
// that shape (<svg>, <g>, <path>, <rect>; a few attributes whose values are numbers, colours,
// path data or class names) and throws on anything else. The element put on the page is then
// rebuilt from the parsed copy with those elements and attributes alone, in the SVG namespace.

const SVG_NS = 'http://www.w3.org/2000/svg';

const NUMBER = /^\d{1,5}(\.\d{1,4})?$/;
const CLASS = /^[a-z][a-z0-9-]{0,30}( [a-z][a-z0-9-]{0,30}){0,3}$/;
const COLOUR = /^(#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}|none)$/;
const TRANSFORM = /^(scale|translate)\(\d{1,5}(\.\d{1,4})?([ ,]\d{1,5}(\.\d{1,4})?)?\)$/;
const PATH_DATA = /^[MmHhVvLlZz0-9 .,-]{1,100000}$/;
const VIEW_BOX = /^\d{1,5}( \d{1,5}){3}$/;
const NAMESPACE = /^http:\/\/www\.w3\.org\/2000\/svg$/;

// Element name -> attribute name -> the pattern its value must match.
const ALLOWED = {
  svg: { xmlns: NAMESPACE, width: NUMBER, height: NUMBER, viewBox: VIEW_BOX, class: CLASS },
  g: { transform: TRANSFORM, fill: COLOUR, stroke: COLOUR, class: CLASS },
  path: { transform: TRANSFORM, fill: COLOUR, stroke: COLOUR, d: PATH_DATA, class: CLASS },
  rect: { x: NUMBER, y: NUMBER, width: NUMBER, height: NUMBER, fill: COLOUR, class: CLASS },
};

function allowedAttribute(element, name, value) {
  const pattern = Object.hasOwn(ALLOWED, element) && Object.hasOwn(ALLOWED[element], name)
    ? ALLOWED[element][name]
    : null;
  return pattern !== null && pattern.test(value);
}

// One tag: <name attr="value" ...> or </name> or <name .../>. Values cannot hold < > " or &.
const TAG = /<(\/?)([a-zA-Z]+)((?:\s+[a-zA-Z]+="[^"<>&]*")*)\s*(\/?)>/y;
const ATTRIBUTE = /\s+([a-zA-Z]+)="([^"<>&]*)"/g;

/** The markup itself if it is one <svg> of allowed elements and attributes only; else throws. */
function checkedSvg(markup) {
  const text = String(markup).trim();
  const open = [];
  let roots = 0;
  TAG.lastIndex = 0;
  while (TAG.lastIndex < text.length) {
    const start = TAG.lastIndex;
    const match = TAG.exec(text);
    if (!match || match.index !== start) throw new TypeError('QR code: unexpected content');
    const [, closing, name, attributes, selfClosing] = match;
    if (!Object.hasOwn(ALLOWED, name)) throw new TypeError(`QR code: <${name}> is not allowed`);
    if (closing) {
      if (attributes || selfClosing || open.pop() !== name) throw new TypeError('QR code: unbalanced tags');
      continue;
    }
    if ((open.length === 0) !== (name === 'svg')) throw new TypeError('QR code: <svg> must be the one root');
    if (open.length === 0) roots += 1;
    for (const [, attribute, value] of attributes.matchAll(ATTRIBUTE)) {
      if (!allowedAttribute(name, attribute, value)) {
        throw new TypeError(`QR code: ${attribute} on <${name}> is not allowed`);
      }
    }
    if (!selfClosing) open.push(name);
  }
  if (roots !== 1 || open.length !== 0) throw new TypeError('QR code: not one complete <svg>');
  return text;
}

let policy = null;
function qrPolicy() {
  // Created once: the CSP allows the name once. Without Trusted Types, the same check runs.
  policy ??= window.trustedTypes?.createPolicy('railguard-qr', { createHTML: checkedSvg })
    ?? { createHTML: checkedSvg };
  return policy;
}

function rebuild(source) {
  const name = source.localName;
  if (!Object.hasOwn(ALLOWED, name)) return null;
  const element = document.createElementNS(SVG_NS, name);
  for (const attribute of source.attributes) {
    if (attribute.name !== 'xmlns' && allowedAttribute(name, attribute.name, attribute.value)) {
      element.setAttribute(attribute.name, attribute.value);
    }
  }
  for (const child of source.children) {
    const copy = rebuild(child);
    if (copy) element.append(copy);
  }
  return element;
}

/** The server's QR code as an <svg> element (throws if the markup is not of the allowed shape). */
export function qrCode(markup, label) {
  const parsed = new DOMParser().parseFromString(qrPolicy().createHTML(markup), 'image/svg+xml');
  const root = parsed.documentElement;
  if (root.localName !== 'svg' || parsed.getElementsByTagName('parsererror').length > 0) {
    throw new TypeError('QR code: not an SVG');
  }
  const svg = rebuild(root);
  const width = svg.getAttribute('width');
  const height = svg.getAttribute('height');
  if (!svg.hasAttribute('viewBox') && width && height) svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  return svg;
}
