// Touch targets (>= 44 px), labelled inputs, text contrast (>= 4.5:1), page language and
// horizontal overflow, checked on every screen the browser tests visit.
() => {
  const problems = [];
  const visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  for (const el of document.querySelectorAll('a, button, select, summary, label.choice, input')) {
    if (el.type === 'hidden' || el.type === 'checkbox' || el.type === 'radio' || !visible(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.width < 44 || r.height < 44) {
      problems.push('target ' + (el.textContent || el.name).trim().slice(0, 30) + ' ' + Math.round(r.width) + 'x' + Math.round(r.height));
    }
  }
  for (const input of document.querySelectorAll('input:not([type=hidden]), select')) {
    const ok = (input.id && document.querySelector('label[for="' + input.id + '"]')) || input.closest('label') || input.getAttribute('aria-label');
    if (!ok) problems.push('unlabelled ' + input.name);
  }
  const lum = (c) => {
    const v = c.match(/[\d.]+/g).slice(0, 3).map(Number).map((x) => { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
  };
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = getComputedStyle(el).backgroundColor;
      if (c && c !== 'transparent' && !c.startsWith('rgba(0, 0, 0, 0)')) return c;
    }
    return 'rgb(255, 255, 255)';
  };
  for (const el of document.querySelectorAll('h1, h2, p, li, a, button, label, span, strong, td, th, summary, legend')) {
    if (!el.textContent.trim() || !visible(el)) continue;
    const [hi, lo] = [lum(getComputedStyle(el).color), lum(background(el))].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    if (ratio < 4.5) problems.push('contrast ' + el.textContent.trim().slice(0, 20) + ' ' + ratio.toFixed(2));
  }
  if (!document.documentElement.lang) problems.push('no lang');
  if (document.documentElement.scrollWidth > window.innerWidth + 1) problems.push('horizontal scroll');
  return problems;
}
