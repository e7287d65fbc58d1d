/* Contrast of the states a page takes under a mouse and a keyboard, run by test_focus_states.py
   in the page; `mode` picks the measure:
   - "controls": marks every interactive control a keyboard must reach (visible, enabled) with
     data-kbd="<n>" and lists them;
   - "placeholders": placeholder text of every visible empty field against the field's
     background, at least 4.5:1;
   - "text": the text of control n (in whatever state it is now, e.g. hovered) against its
     effective background, 4.5:1 or 3:1 for large text;
   - "focus": the focused element (marked data-focused="<n>", so that Tab staying on one element
     is told from Tab moving between alike ones), and its focus indicator (outline, or
     box-shadow) against the colours next to it, at least 3:1 (WCAG 1.4.11 and 2.4.7).
   "text" and "focus" wait for running transitions to end first. */
async ({mode, index}) => {
  // what is measured is the state a person sees once a transition (Bootstrap fades colours and
  // rings in over .15 s) has ended
  const settled = () => Promise.race([
    Promise.all(document.getAnimations()
      .filter((a) => a.effect && a.effect.getComputedTiming().endTime !== Infinity)
      .map((a) => a.finished.catch(() => null))),
    new Promise((resolve) => setTimeout(resolve, 1000)),
  ]);
  const parse = (c) => {
    const m = c && c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, bottom) => {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat([1]);
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let base = [255, 255, 255, 1];
    for (let i = layers.length - 1; i >= 0; i--) base = over(layers[i], base);
    return base;
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const ratio = (a, b) => {
    const x = lum(a), y = lum(b);
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
  };
  const round = (r) => Math.round(r * 100) / 100;
  const rgb = (c) => 'rgb(' + c.slice(0, 3).map(Math.round).join(', ') + ')';
  const opacityOf = (el) => {
    let o = 1;
    for (let e = el; e; e = e.parentElement) o *= parseFloat(getComputedStyle(e).opacity);
    return o;
  };
  const describe = (el) => {
    let d = el.tagName.toLowerCase();
    if (el.id) d += '#' + el.id;
    if (typeof el.className === 'string' && el.className.trim()) d += '.' + el.className.trim().split(/\s+/).join('.');
    if (el.getAttribute('name')) d += '[name="' + el.getAttribute('name') + '"]';
    const shown = el.matches('select') ? (el.selectedOptions[0] || {}).text : el.innerText || el.value;
    const text = (shown || el.getAttribute('aria-label') || '').replace(/\s+/g, ' ').trim();
    return text ? d + ' “' + text.slice(0, 30) + '”' : d;
  };
  const rendered = (el) => {
    const s = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    return s.visibility === 'visible' && s.display !== 'none' && box.width >= 1 && box.height >= 1
      && !el.closest('[inert]');
  };
  const CONTROLS = 'a[href], button, input:not([type="hidden"]), select, textarea, details > summary, [tabindex]';
  const NO_TEXT = ['checkbox', 'radio', 'range', 'color', 'image'];

  if (mode === 'controls') {
    document.querySelectorAll('[data-kbd]').forEach((e) => e.removeAttribute('data-kbd'));
    const found = [];
    for (const el of document.querySelectorAll(CONTROLS)) {
      if (el.matches('[tabindex]') && !el.matches('a[href], button, input, select, textarea, summary')
          && parseInt(el.getAttribute('tabindex'), 10) < 0) continue;  // focusable by script only
      if (el.matches(':disabled') || el.closest('fieldset:disabled')) continue;
      const skip = el.matches('.visually-hidden-focusable');
      if (!skip && !rendered(el)) continue;
      el.setAttribute('data-kbd', String(found.length));
      found.push({index: found.length, element: describe(el), skip: skip,
                  radio: el.matches('input[type="radio"]') ? el.name : null});
    }
    return found;
  }

  const measure = (el, textEl, fg, need) => {
    const bg = background(textEl);
    fg = fg.slice();
    fg[3] *= opacityOf(textEl);
    const got = ratio(over(fg, bg), bg);
    return {element: describe(el), ratio: round(got), need: need, ok: got >= need - 0.005,
            color: rgb(fg), background: rgb(bg)};
  };
  const needOf = (s) => {
    const size = parseFloat(s.fontSize);
    return size >= 24 || (parseInt(s.fontWeight, 10) >= 700 && size >= 18.66) ? 3 : 4.5;
  };

  if (mode === 'placeholders') {
    const out = [];
    for (const el of document.querySelectorAll('input[placeholder], textarea[placeholder]')) {
      if (!el.getAttribute('placeholder').trim() || el.value || !rendered(el)) continue;
      const fg = parse(getComputedStyle(el, '::placeholder').color);
      if (!fg) continue;
      out.push(Object.assign(measure(el, el, fg, 4.5), {text: el.getAttribute('placeholder')}));
    }
    return out;
  }

  if (mode === 'text') {
    await settled();
    const el = document.querySelector('[data-kbd="' + index + '"]');
    if (!el) return [];
    const out = [];
    if (el.matches('input, select, textarea')) {
      if (el.matches('input') && NO_TEXT.includes(el.type)) return [];
      const s = getComputedStyle(el);
      const text = el.matches('select') ? (el.selectedOptions[0] || {}).text || '' : el.value || '';
      out.push(Object.assign(measure(el, el, parse(s.color), needOf(s)), {text: text.trim().slice(0, 40)}));
      return out;
    }
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    const seen = new Set();
    while (walker.nextNode()) {
      const node = walker.currentNode;
      const t = node.parentElement;
      if (!t || seen.has(t) || !node.textContent.trim()) continue;
      seen.add(t);
      if (!rendered(t) || t.closest('.visually-hidden, [aria-hidden="true"]')) continue;
      const s = getComputedStyle(t);
      const fg = parse(t.closest('svg') && s.fill !== 'none' ? s.fill : s.color);
      if (!fg) continue;
      out.push(Object.assign(measure(el, t, fg, needOf(s)), {text: node.textContent.trim().slice(0, 40)}));
    }
    return out;
  }

  if (mode === 'focus') {
    await settled();
    const el = document.activeElement;
    if (!el || el === document.body || el === document.documentElement) return {body: true};
    if (!el.hasAttribute('data-focused')) {
      el.setAttribute('data-focused', String(document.querySelectorAll('[data-focused]').length));
    }
    const result = {body: false, index: el.getAttribute('data-kbd'), element: describe(el),
                    key: el.getAttribute('data-focused'),
                    visible: rendered(el), inMain: !!el.closest('main'), isMain: el.matches('main'),
                    indicator: null, ratio: 0, color: null, against: null};
    const s = getComputedStyle(el);
    const outside = background(el.parentElement || el);
    const inside = background(el);
    const candidates = [];
    const width = parseFloat(s.outlineWidth);
    const oc = parse(s.outlineColor);
    if (s.outlineStyle !== 'none' && width >= 1 && oc && oc[3] > 0) {
      // an outline drawn off the element sits between the page and the gap, the page's colour
      // on both sides; one drawn on the element's edge is next to the element's own colour
      const off = parseFloat(s.outlineOffset) > 0;
      const r = Math.min(ratio(over(oc, outside), outside), off ? Infinity : ratio(over(oc, inside), inside));
      candidates.push({indicator: 'outline ' + width + 'px', ratio: r, color: rgb(oc),
                       against: off ? rgb(outside) : rgb(outside) + ' / ' + rgb(inside)});
    }
    if (s.boxShadow && s.boxShadow !== 'none') {
      // each shadow: its colour and lengths; an outer ring needs a spread or a blur
      for (const shadow of s.boxShadow.split(/,(?![^(]*\))/)) {
        const sc = parse(shadow);
        const lengths = (shadow.replace(/rgba?\([^)]*\)/, '').match(/-?[\d.]+px/g) || []).map(parseFloat);
        if (!sc || sc[3] <= 0 || /inset/.test(shadow) || lengths.slice(2).every((v) => v <= 0)) continue;
        const r = ratio(over(sc, outside), outside);
        candidates.push({indicator: 'box-shadow', ratio: r, color: rgb(over(sc, outside)), against: rgb(outside)});
      }
    }
    for (const c of candidates) {
      if (c.ratio > result.ratio) Object.assign(result, c);
    }
    result.ratio = round(result.ratio);
    return result;
  }
  throw new Error('unknown mode ' + mode);
}
