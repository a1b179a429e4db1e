/** Thin helpers over the @vscode-elements components we use (only these are imported, to keep the bundle small). */
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';

export interface Opt { value: string; label: string; title?: string }

export type SelectEl = HTMLElement & { value: string };

/** A vscode-single-select with the given options; `onChange` gets the new value. */
export function select(id: string, label: string, options: Opt[], value: string, onChange: (v: string) => void): SelectEl {
  const s = document.createElement('vscode-single-select') as unknown as SelectEl;
  s.id = id;
  s.setAttribute('aria-label', label);
  s.title = label;
  setOptions(s, options, value);
  s.addEventListener('change', () => onChange(s.value));
  return s;
}

export function setOptions(s: SelectEl, options: Opt[], value: string): void {
  s.replaceChildren(...options.map((o) => {
    const e = document.createElement('vscode-option') as HTMLElement & { value: string; selected: boolean };
    e.setAttribute('value', o.value);
    if (o.value === value) e.setAttribute('selected', '');
    if (o.title) e.setAttribute('description', o.title);
    e.textContent = o.label;
    return e;
  }));
  try { s.value = value; } catch { /* set once upgraded */ }
}

export function textfield(id: string, placeholder: string, value: string, onInput: (v: string) => void): HTMLElement & { value: string } {
  const t = document.createElement('vscode-textfield') as HTMLElement & { value: string };
  t.id = id;
  t.setAttribute('placeholder', placeholder);
  t.setAttribute('aria-label', placeholder);
  t.value = value;
  t.addEventListener('input', () => onInput(t.value));
  return t;
}

export function button(id: string, text: string, title: string, onClick: () => void, secondary = true): HTMLElement {
  const b = document.createElement('vscode-button');
  b.id = id;
  if (secondary) b.setAttribute('secondary', '');
  b.title = title;
  b.textContent = text;
  b.addEventListener('click', onClick);
  return b;
}

export function checkbox(id: string, label: string, checked: boolean, onChange: (v: boolean) => void): HTMLElement & { checked: boolean } {
  const c = document.createElement('vscode-checkbox') as HTMLElement & { checked: boolean };
  c.id = id;
  c.setAttribute('label', label);
  if (checked) c.setAttribute('checked', '');
  c.addEventListener('change', () => onChange(c.checked));
  return c;
}
