// The approver rule string of `liaison:approvers` (docs/approvals.md) <-> the builder's {kind, arg}.

export const RULE_KINDS = [
  'users', 'role', 'department', 'manager', 'department_head', 'initiator', 'picked', 'expr'
];

const NO_ARG = new Set(['initiator']);

/** Split a rule into its kind and argument; an unknown kind comes back as {kind: '', arg: rule, unknown}. */
export function parseRule(text) {
  const rule = (text || '').trim();
  if (!rule) {
    return { kind: '', arg: '' };
  }
  const colon = rule.indexOf(':');
  const kind = (colon < 0 ? rule : rule.slice(0, colon)).trim();
  const arg = colon < 0 ? '' : rule.slice(colon + 1).trim();
  if (!RULE_KINDS.includes(kind)) {
    return { kind: '', arg: rule, unknown: true };
  }
  if (kind === 'department') {
    const sub = arg.endsWith('+');
    return { kind, arg: sub ? arg.slice(0, -1).trim() : arg, sub };
  }
  return { kind, arg };
}

/** The rule string for a builder state; undefined (attribute removed) when no kind is chosen. */
export function formatRule({ kind, arg = '', sub = false }) {
  if (!kind) {
    return undefined;
  }
  const value = String(arg).trim();
  if (NO_ARG.has(kind)) {
    return kind;
  }
  if (kind === 'manager' || kind === 'department_head') {
    return value && value !== (kind === 'manager' ? '1' : '') ? `${kind}:${value}` : kind;
  }
  if (kind === 'department') {
    return `department:${value}${sub ? '+' : ''}`;
  }
  if (kind === 'users') {
    return `users:${splitList(value).join(',')}`;
  }
  return `${kind}:${value}`;
}

/** Comma-separated names, trimmed, empties dropped. */
export function splitList(text) {
  return (text || '').split(',').map(part => part.trim()).filter(Boolean);
}
