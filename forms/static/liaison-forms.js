/* Liaison forms: the browser side of forms/render.py. Plain ES2017, no dependencies.
 *
 * - evaluate(tree, env) walks the JSON expression trees compiled by forms/expr.py with the same
 *   semantics as its Python walker, so the browser and the server agree on conditions and formulas.
 * - Every form[data-liaison-form] is wired on load: fields show and hide by data-visible-if (a hidden
 *   field's inputs are disabled, so they are not posted, as the server expects), formulas and table
 *   sums are computed live, table rows are added from a <template> and removed, money amounts are
 *   written in capital numerals (forms/money.py to_capital) and date ranges show their duration
 *   (forms/dates.py range_duration).
 * - Values are read the way the server reads the posted form (forms/fields.py): a text is trimmed
 *   and "" is None, money is a number exact to the cent, a choice is the option's typed value, a
 *   hidden (disabled) input is not posted and reads as None.
 */
(function (root) {
  'use strict';

  const MAX_SEQUENCE = 10000;
  const hasOwn = (obj, key) => Object.prototype.hasOwnProperty.call(obj, key);
  const isList = Array.isArray;
  const isDict = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

  class ExpressionError extends Error {}

  function fail(message) {
    throw new ExpressionError(message);
  }

  // -- the expression walker (forms/expr.py) ------------------------------------------------------

  const FLOAT_RE = /^[+-]?(?:(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?|inf(?:inity)?|nan)$/i;

  /** expr._num: None/False -> 0, True -> 1, numeric strings -> float, "" -> 0; others unchanged. */
  function num(value) {
    if (value === null || value === undefined || value === false) return 0;
    if (value === true) return 1;
    if (typeof value === 'string') {
      const text = value.trim();
      if (!text) return 0;
      if (!FLOAT_RE.test(text)) fail('`' + value + '` is not a number');
      const word = text.replace(/^[+-]/, '').toLowerCase();
      if (word === 'nan') return NaN;
      if (word.startsWith('inf')) return text[0] === '-' ? -Infinity : Infinity;
      return Number(text.replace(/_/g, ''));
    }
    return value;
  }

  /** expr._loose: "" compares as None (numbers already compare by value in JavaScript). */
  function loose(value) {
    return value === '' || value === undefined ? null : value;
  }

  /** Python's == on JSON values: True == 1, [1] == [1.0], dicts by keys and values. */
  function pyEq(a, b) {
    if (a === null || b === null || a === undefined || b === undefined) return (a == null) && (b == null);
    const aNum = typeof a === 'number' || typeof a === 'boolean';
    const bNum = typeof b === 'number' || typeof b === 'boolean';
    if (aNum || bNum) return aNum && bNum && Number(a) === Number(b);
    if (typeof a === 'string' || typeof b === 'string') return a === b;
    if (isList(a) || isList(b)) {
      return isList(a) && isList(b) && a.length === b.length && a.every((x, i) => pyEq(x, b[i]));
    }
    if (isDict(a) && isDict(b)) {
      const keys = Object.keys(a);
      return keys.length === Object.keys(b).length && keys.every((k) => hasOwn(b, k) && pyEq(a[k], b[k]));
    }
    return false;
  }

  /** Python's truth value: None, False, 0, "", [] and {} are false. */
  function pyBool(value) {
    if (value === null || value === undefined) return false;
    if (typeof value === 'boolean') return value;
    if (typeof value === 'number') return value !== 0;
    if (typeof value === 'string' || isList(value)) return value.length > 0;
    if (isDict(value)) return Object.keys(value).length > 0;
    return true;
  }

  function pyMod(a, b) {
    let mod = a % b;
    if (mod) {
      if ((b < 0) !== (mod < 0)) mod += b;
    } else {
      mod = b < 0 ? -0 : 0;
    }
    return mod;
  }

  /** Python's // on floats (Objects/floatobject.c float_floor_div). */
  function floorDiv(a, b) {
    const mod = a % b;
    let div = (a - mod) / b;
    if (mod && ((b < 0) !== (mod < 0))) div -= 1;
    if (div) {
      let floored = Math.floor(div);
      if (div - floored > 0.5) floored += 1;
      return floored;
    }
    return a / b < 0 ? -0 : 0;
  }

  /** Python's round(x, n) on a float: the nearest decimal, exact ties to even. */
  function pyRound(x, digits) {
    if (!Number.isFinite(x) || Number.isInteger(x)) return x;
    const away = x.toFixed(digits); // nearest; an exact tie goes away from zero
    const exact = Math.abs(x).toFixed(100); // every digit of the binary value (|x| < 1e21 here)
    const dot = exact.indexOf('.');
    if (/^50*$/.test(exact.slice(dot + 1 + digits))) {
      const last = Number(exact[digits ? dot + digits : dot - 1]);
      if (last % 2 === 0) return Number((x < 0 ? '-' : '') + exact.slice(0, digits ? dot + 1 + digits : dot));
    }
    return Number(away);
  }

  function binary(op, left, right) {
    if (op === '+' && typeof left === 'string' && typeof right === 'string') {
      if (left.length + right.length > MAX_SEQUENCE) fail('string too long');
      return left + right;
    }
    if (op === '+' && isList(left) && isList(right)) {
      if (left.length + right.length > MAX_SEQUENCE) fail('list too long');
      return left.concat(right);
    }
    const a = num(left);
    const b = num(right);
    if (typeof a !== 'number' || typeof b !== 'number') fail('cannot apply `' + op + '`');
    if ((op === '/' || op === '//' || op === '%') && b === 0) fail('division by zero');
    let result;
    switch (op) {
      case '+': result = a + b; break;
      case '-': result = a - b; break;
      case '*': result = a * b; break;
      case '/': result = a / b; break;
      case '//': result = floorDiv(a, b); break;
      case '%': result = pyMod(a, b); break;
      default: fail('unknown operator `' + op + '`');
    }
    return finite(result);
  }

  /** expr._finite: refuse inf and nan results. */
  function finite(result) {
    if (!Number.isFinite(result)) fail('result is not a finite number');
    return result;
  }

  function compare(op, left, right) {
    if (op === '==') return pyEq(loose(left), loose(right));
    if (op === '!=') return !pyEq(loose(left), loose(right));
    if (op === 'in' || op === 'not in') {
      let found = false;
      if (typeof right === 'string') {
        found = typeof left === 'string' && right.indexOf(left) >= 0;
      } else if (isList(right) || isDict(right)) {
        const wanted = loose(left);
        found = (isList(right) ? right : Object.keys(right)).some((v) => pyEq(wanted, loose(v)));
      }
      return op === 'in' ? found : !found;
    }
    if (left === null || left === undefined || right === null || right === undefined) return false;
    let a = left;
    let b = right;
    if (!(typeof left === 'string' && typeof right === 'string')) {
      a = num(left);
      b = num(right);
      if (typeof a !== 'number' || typeof b !== 'number') fail('cannot compare these values');
    }
    switch (op) {
      case '<': return a < b;
      case '<=': return a <= b;
      case '>': return a > b;
      case '>=': return a >= b;
      default: return fail('unknown comparison `' + op + '`');
    }
  }

  function call(name, args) {
    if (name === 'len') {
      const v = args[0];
      if (typeof v === 'string') return Array.from(v).length;
      if (isList(v)) return v.length;
      if (isDict(v)) return Object.keys(v).length;
      return 0;
    }
    if (name === 'abs' || name === 'round') {
      if (!args.length) fail(name + '() needs an argument');
      const v = num(args[0]);
      if (typeof v !== 'number') fail(name + '() needs a number');
      if (name === 'abs') return finite(Math.abs(v));
      if (args.length === 1) return pyRound(finite(v), 0); // round(inf) fails in Python too
      const d = num(args[1]);
      if (typeof d !== 'number' || !Number.isFinite(d)) fail('round() needs a whole number of digits');
      return finite(pyRound(v, Math.max(0, Math.min(Math.trunc(d), 10))));
    }
    if (name !== 'sum' && name !== 'min' && name !== 'max') fail('function `' + name + '` is not allowed');
    if (name === 'sum' && args.length === 2 && isList(args[0]) && typeof args[1] === 'string') {
      const column = args[1];
      args = [args[0].map((row) => (isDict(row) && hasOwn(row, column) ? row[column] : null))];
    }
    const values = args.length === 1 && isList(args[0]) ? args[0] : args;
    const numbers = values.filter((v) => v !== null && v !== undefined && v !== '').map(num);
    if (numbers.some((n) => typeof n !== 'number')) fail(name + '() needs numbers');
    if (name === 'sum') return finite(numbers.reduce((total, n) => total + n, 0));
    if (!numbers.length) return null;
    if (name === 'min') return numbers.reduce((m, n) => (n < m ? n : m));
    return numbers.reduce((m, n) => (n > m ? n : m));
  }

  function walk(node, env) {
    if (!isList(node) || !node.length) fail('malformed expression');
    switch (node[0]) {
      case 'const':
        return node[1] === undefined ? null : node[1];
      case 'name':
        return hasOwn(env, node[1]) && env[node[1]] !== undefined ? env[node[1]] : null;
      case 'and': {
        let result = true;
        for (let i = 1; i < node.length; i++) {
          result = walk(node[i], env);
          if (!pyBool(result)) return result;
        }
        return result;
      }
      case 'or': {
        let result = false;
        for (let i = 1; i < node.length; i++) {
          result = walk(node[i], env);
          if (pyBool(result)) return result;
        }
        return result;
      }
      case 'not':
        return !pyBool(walk(node[1], env));
      case 'neg': {
        const v = num(walk(node[1], env));
        if (typeof v !== 'number') fail('cannot negate this value');
        return -v;
      }
      case 'if':
        return pyBool(walk(node[1], env)) ? walk(node[2], env) : walk(node[3], env);
      case 'list':
        return node.slice(1).map((e) => walk(e, env));
      case 'index': {
        const container = walk(node[1], env);
        const key = walk(node[2], env);
        if ((isList(container) || typeof container === 'string') && typeof key === 'number' && Number.isInteger(key)) {
          const seq = typeof container === 'string' ? Array.from(container) : container;
          if (key < -seq.length || key >= seq.length) return null;
          const item = seq[key < 0 ? seq.length + key : key];
          return item === undefined ? null : item;
        }
        if (isDict(container) && typeof key === 'string') return hasOwn(container, key) ? container[key] : null;
        return null;
      }
      case 'bin':
        return binary(node[1], walk(node[2], env), walk(node[3], env));
      case 'cmp':
        return compare(node[1], walk(node[2], env), walk(node[3], env));
      case 'call':
        return call(node[1], node.slice(2).map((a) => walk(a, env)));
      default:
        return fail('unknown node `' + node[0] + '`');
    }
  }

  /** Evaluate a compiled tree over env (field name -> value); unknown names are null. */
  function evaluate(tree, env) {
    try {
      return walk(tree, env || {});
    } catch (err) {
      if (err instanceof ExpressionError) throw err;
      throw new ExpressionError(String(err && err.message ? err.message : err));
    }
  }

  /** A condition's truth; a condition that fails to evaluate counts as `dflt`. */
  function truthy(tree, env, dflt) {
    if (tree === null || tree === undefined) return dflt;
    try {
      return pyBool(evaluate(tree, env));
    } catch (err) {
      if (err instanceof ExpressionError) return dflt;
      throw err;
    }
  }

  // -- exact decimals (table sums, formula decimals) ------------------------------------------------

  /** "12.50", "-3", "1e-7" -> {neg, digits, exp} meaning (neg ? -1 : 1) * digits * 10**exp. */
  function decParse(text) {
    const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(String(text).trim().replace(/_/g, ''));
    if (!m || (!m[2] && !m[3])) return null;
    const frac = m[3] || '';
    const digits = ((m[2] || '') + frac).replace(/^0+(?=\d)/, '');
    return { neg: m[1] === '-' && /[1-9]/.test(digits), digits: digits, exp: (m[4] ? parseInt(m[4], 10) : 0) - frac.length };
  }

  function magCompare(a, b) {
    a = a.replace(/^0+(?=\d)/, '');
    b = b.replace(/^0+(?=\d)/, '');
    if (a.length !== b.length) return a.length < b.length ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  }

  function magAdd(a, b) {
    let out = '';
    let carry = 0;
    for (let i = a.length - 1, j = b.length - 1; i >= 0 || j >= 0 || carry; i--, j--) {
      const s = (i >= 0 ? +a[i] : 0) + (j >= 0 ? +b[j] : 0) + carry;
      out = (s % 10) + out;
      carry = s >= 10 ? 1 : 0;
    }
    return out.replace(/^0+(?=\d)/, '') || '0';
  }

  function magSub(a, b) { // a >= b
    let out = '';
    let borrow = 0;
    for (let i = a.length - 1, j = b.length - 1; i >= 0; i--, j--) {
      let d = +a[i] - (j >= 0 ? +b[j] : 0) - borrow;
      borrow = d < 0 ? 1 : 0;
      if (d < 0) d += 10;
      out = d + out;
    }
    return out.replace(/^0+(?=\d)/, '') || '0';
  }

  function decAdd(a, b) {
    const exp = Math.min(a.exp, b.exp);
    const x = a.digits + '0'.repeat(a.exp - exp);
    const y = b.digits + '0'.repeat(b.exp - exp);
    if (a.neg === b.neg) return { neg: a.neg, digits: magAdd(x, y), exp: exp };
    const order = magCompare(x, y);
    if (order === 0) return { neg: false, digits: '0', exp: exp };
    return order > 0 ? { neg: a.neg, digits: magSub(x, y), exp: exp } : { neg: b.neg, digits: magSub(y, x), exp: exp };
  }

  /** A decimal as plain text with exactly `places` decimals (or its own, when places is null). */
  function decText(d, places) {
    let digits = d.digits;
    let exp = d.exp;
    if (places !== null && places !== undefined) {
      if (exp < -places) {
        const keep = digits.length + exp + places;
        const first = keep >= 0 ? digits[keep] || '0' : '0';
        digits = keep > 0 ? digits.slice(0, keep) : '0';
        if (first >= '5') digits = magAdd(digits, '1'); // ROUND_HALF_UP: ties away from zero
      } else {
        digits += '0'.repeat(exp + places);
      }
      exp = -places;
    }
    if (exp >= 0) digits += '0'.repeat(exp);
    const scale = Math.max(0, -exp);
    digits = digits.replace(/^0+(?=\d)/, '').padStart(scale + 1, '0');
    const text = scale ? digits.slice(0, digits.length - scale) + '.' + digits.slice(digits.length - scale) : digits;
    return (d.neg && /[1-9]/.test(digits) ? '-' : '') + text;
  }

  /** Decimal(repr(value)).quantize(10**-places, ROUND_HALF_UP) as text; null past 28 digits. */
  function roundHalfUp(value, places) {
    const d = decParse(typeof value === 'number' ? String(value) : value);
    if (!d) return null;
    const text = decText(d, places);
    return text.replace(/[-.]/g, '').replace(/^0+(?=\d)/, '').length > 28 ? null : text;
  }

  /** A number as Python shows a cleaned value: whole numbers without ".0". */
  function plainNumber(n) {
    return Object.is(n, -0) ? '0' : String(n);
  }

  // -- money (forms/money.py) ------------------------------------------------------------------------

  const CAPITAL_DIGITS = '零壹贰叁肆伍陆柒捌玖';
  const SECTION_UNITS = ['', '拾', '佰', '仟'];
  const AMOUNT_RE = /^-?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?$/;

  /** parse_money's reading of an amount: {neg, yuan: "1234", cents: "50"} or null. */
  function parseAmount(value) {
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) return null;
      value = String(value);
    }
    if (typeof value !== 'string') return null;
    const text = value.normalize('NFKC').trim();
    if (!text || !AMOUNT_RE.test(text)) return null;
    const neg = text[0] === '-';
    const parts = (neg ? text.slice(1) : text).replace(/,/g, '').split('.');
    const frac = (parts[1] || '').replace(/0+$/, '');
    if (frac.length > 2) return null;
    const yuan = parts[0].replace(/^0+(?=\d)/, '');
    const cents = (frac + '00').slice(0, 2);
    return { neg: neg && (yuan !== '0' || cents !== '00'), yuan: yuan, cents: cents };
  }

  /** A money field's cleaned value ("1234.50"), or null when the text is not an amount. */
  function cleanMoney(value) {
    const a = parseAmount(value);
    return a ? (a.neg ? '-' : '') + a.yuan + '.' + a.cents : null;
  }

  function capitalSection(n) {
    let out = '';
    let pendingZero = false;
    for (let e = 3; e >= 0; e--) {
      const digit = Math.floor(n / Math.pow(10, e)) % 10;
      if (digit === 0) {
        pendingZero = out.length > 0;
        continue;
      }
      if (pendingZero) {
        out += '零';
        pendingZero = false;
      }
      out += CAPITAL_DIGITS[digit] + SECTION_UNITS[e];
    }
    return out;
  }

  function capitalInteger(digits) { // digits: no leading zero, value below 10**16
    if (digits.length > 8) {
      const low = Number(digits.slice(-8));
      return capitalInteger(digits.slice(0, -8)) + '亿' + (low > 0 && low < 1e7 ? '零' : '') +
        (low ? capitalInteger(String(low)) : '');
    }
    const n = Number(digits);
    if (n >= 1e4) {
      const low = n % 1e4;
      return capitalInteger(String(Math.floor(n / 1e4))) + '万' + (low > 0 && low < 1e3 ? '零' : '') +
        (low ? capitalSection(low) : '');
    }
    return capitalSection(n);
  }

  /** forms.money.to_capital: a non-negative amount (<= 2 decimals, below 10**16) in capital numerals. */
  function toCapital(amount) {
    const a = parseAmount(amount);
    if (!a) throw new RangeError('not a valid amount: ' + amount);
    if (a.neg) throw new RangeError('amount must not be negative: ' + amount);
    const yuan = a.yuan.replace(/^0+/, '');
    if (yuan.length > 16) throw new RangeError('amount is too large, it must be below 10**16: ' + amount);
    const jiao = Number(a.cents[0]);
    const fen = Number(a.cents[1]);
    if (!yuan && !jiao && !fen) return '零元整';
    const parts = yuan ? [capitalInteger(yuan) + '元'] : [];
    if (jiao) parts.push(CAPITAL_DIGITS[jiao] + '角');
    else if (fen && yuan) parts.push('零');
    if (fen) parts.push(CAPITAL_DIGITS[fen] + '分');
    if (!jiao && !fen) parts.push('整');
    return parts.join('');
  }

  function capitalOrEmpty(text) {
    try {
      return text && text.trim() ? toCapital(text) : '';
    } catch (err) {
      return '';
    }
  }

  // -- dates (forms/dates.py) ------------------------------------------------------------------------

  const DAY = 86400000;
  const MOMENT_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?$/;

  /** An ISO date or local date-time as {ms (UTC clock), time: bool, second, micro}, or null. */
  function parseMoment(text) {
    const m = MOMENT_RE.exec(String(text || '').trim());
    if (!m) return null;
    const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] || 0));
    if (hour > 23 || minute > 59 || second > 59) return null;
    const when = new Date(Date.UTC(2000, month - 1, day, hour, minute, second));
    when.setUTCFullYear(year);
    if (when.getUTCFullYear() !== year || when.getUTCMonth() !== month - 1 || when.getUTCDate() !== day) return null;
    const micro = m[7] ? Number((m[7] + '00000').slice(0, 6)) : 0;
    return { ms: when.getTime() + Math.floor(micro / 1000), time: Boolean(m[4]), second: second, micro: micro, m: m };
  }

  const pad = (n, width) => String(n).padStart(width || 2, '0');
  const dayOf = (ms) => Math.floor(ms / DAY);
  const weekday = (day) => (((day + 3) % 7) + 7) % 7; // 1970-01-01 was a Thursday; Monday is 0

  function isoDate(p) {
    return p.m[1] + '-' + p.m[2] + '-' + p.m[3];
  }

  /** datetime.isoformat(timespec): "minutes", "seconds" or "auto" (with microseconds when any). */
  function isoDateTime(p, timespec) {
    let text = isoDate(p) + 'T' + pad(p.m[4] || 0) + ':' + pad(p.m[5] || 0);
    if (timespec === 'minutes') return text;
    text += ':' + pad(p.second);
    return timespec === 'auto' && p.micro ? text + '.' + pad(p.micro, 6) : text;
  }

  function daySet(values) {
    const out = new Set();
    (values || []).forEach((v) => {
      const p = parseMoment(v);
      if (p) out.add(dayOf(p.ms));
    });
    return out;
  }

  function countWorkdays(first, last, off, extra) {
    if (last < first) return 0;
    const total = last - first + 1;
    let count = Math.floor(total / 7) * 5;
    for (let i = 0; i < total % 7; i++) if ((weekday(first) + i) % 7 < 5) count += 1;
    off.forEach((d) => { if (first <= d && d <= last && weekday(d) < 5) count -= 1; });
    extra.forEach((d) => { if (first <= d && d <= last && weekday(d) >= 5) count += 1; });
    return count;
  }

  function isWorkday(day, off, extra) {
    return extra.has(day) || (weekday(day) < 5 && !off.has(day));
  }

  function workdayTime(begin, finish, off, extra) {
    const first = dayOf(begin);
    const last = dayOf(finish);
    if (first === last) return isWorkday(first, off, extra) ? finish - begin : 0;
    let total = 0;
    if (isWorkday(first, off, extra)) total += (first + 1) * DAY - begin;
    if (isWorkday(last, off, extra)) total += finish - last * DAY;
    return total + DAY * countWorkdays(first + 1, last - 1, off, extra);
  }

  /** forms.dates.range_duration: inclusive days, or hours with 2 decimals; null when not a range. */
  function rangeDuration(start, end, options) {
    const opts = options || {};
    const a = parseMoment(start);
    const b = parseMoment(end);
    if (!a || !b) return null;
    if (a.time && b.time ? b.ms < a.ms : dayOf(b.ms) < dayOf(a.ms)) return null;
    const off = daySet(opts.holidays);
    const extra = daySet(opts.extra_workdays || opts.extraWorkdays);
    if ((opts.unit || 'days') === 'days') {
      const first = dayOf(a.ms);
      const last = dayOf(b.ms);
      return opts.workdays ? countWorkdays(first, last, off, extra) : last - first + 1;
    }
    const finish = b.time ? b.ms : b.ms + DAY;
    const elapsed = opts.workdays ? workdayTime(a.ms, finish, off, extra) : finish - a.ms;
    const whole = Math.floor(elapsed / 36000);
    return (whole + (2 * (elapsed - whole * 36000) >= 36000 ? 1 : 0)) / 100;
  }

  // -- reading fields the way the server reads the post (forms/fields.py) ----------------------------

  function parseJSON(text, fallback) {
    if (text === undefined || text === null || text === '') return fallback;
    try {
      return JSON.parse(text);
    } catch (err) {
      return fallback;
    }
  }

  const treeCache = new WeakMap();

  function treeOf(el, attr) {
    const text = el.getAttribute(attr);
    if (!text) return null;
    let cached = treeCache.get(el);
    if (!cached) {
      cached = {};
      treeCache.set(el, cached);
    }
    if (!cached[attr] || cached[attr].text !== text) cached[attr] = { text: text, tree: parseJSON(text, null) };
    return cached[attr].tree;
  }

  /** The elements a browser would post under `name` from inside `wrapper` (nothing when disabled). */
  function posted(wrapper, name) {
    const out = [];
    wrapper.querySelectorAll('input, select, textarea').forEach((el) => {
      if (el.name !== name || el.disabled) return;
      if (el.type === 'checkbox' || el.type === 'radio') {
        if (el.checked) out.push(el);
      } else if (el.tagName === 'SELECT') {
        Array.from(el.selectedOptions).forEach((option) => out.push(option));
      } else if (el.type !== 'file') {
        out.push(el);
      }
    });
    return out;
  }

  const nonEmpty = (els) => els.filter((el) => el.value !== '');

  function readNumber(text, integer) {
    const clean = String(text).trim().replace(/,/g, '');
    if (!clean || clean.length > 40 || !/^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/.test(clean)) return null;
    const n = Number(clean);
    if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) return null;
    return n;
  }

  function readFiles(els) {
    const refs = [];
    for (const el of els) {
      if (!el.value) continue;
      const value = parseJSON(el.value, undefined);
      if (value === undefined) return null;
      for (const item of isList(value) ? value : [value]) {
        if (!isDict(item) || typeof item.id !== 'string' || !Number.isInteger(item.size) || typeof item.sha256 !== 'string') {
          return null;
        }
        const ref = {};
        ['id', 'name', 'size', 'sha256', 'content_type'].forEach((k) => { ref[k] = hasOwn(item, k) ? item[k] : null; });
        refs.push(ref);
      }
    }
    return refs;
  }

  function readRange(wrapper, name) {
    const start = posted(wrapper, name + '-start')[0];
    const end = posted(wrapper, name + '-end')[0];
    const s = start ? start.value : '';
    const e = end ? end.value : '';
    if (!s || !e) return null;
    const a = parseMoment(s);
    const b = parseMoment(e);
    if (!a || !b) return null;
    if (wrapper.getAttribute('data-with-time') === 'true') {
      if (b.ms < a.ms) return null;
      return { start: isoDateTime(a, 'auto'), end: isoDateTime(b, 'auto'), duration: null };
    }
    if (dayOf(b.ms) < dayOf(a.ms)) return null;
    return { start: isoDate(a), end: isoDate(b), duration: null };
  }

  /** The value of one field or table cell, as the server's field would hold it before checking. */
  function readValue(wrapper, name) {
    const widget = wrapper.getAttribute('data-widget');
    const type = wrapper.getAttribute('data-type');
    if (widget === 'readonly' || widget === 'readonly_table' || widget === 'serial' || widget === 'formula') {
      return parseJSON(wrapper.getAttribute('data-value'), null);
    }
    if (widget === 'notice') return null;
    if (widget === 'table') return readTable(wrapper);
    if (type === 'date_range') return readRange(wrapper, name);
    const multiple = wrapper.hasAttribute('data-multiple');
    const els = posted(wrapper, name);
    const first = els.length ? els[0].value : null;
    switch (type) {
      case 'text':
      case 'textarea':
        return first === null || !first.trim() ? null : first.trim();
      case 'number':
        return first === null ? null : readNumber(first, wrapper.hasAttribute('data-integer'));
      case 'rating': {
        const n = first === null ? null : readNumber(first, false);
        return n === null || !Number.isInteger(n) ? null : n;
      }
      case 'money': { // a JSON number, exact to the cent (MoneyField)
        const amount = first === null ? null : cleanMoney(first);
        return amount === null || amount.replace(/^-/, '').split('.')[0].length > 40 ? null : Number(amount);
      }
      case 'date': {
        const p = first ? parseMoment(first) : null;
        return p ? isoDate(p) : null;
      }
      case 'datetime': {
        const p = first ? parseMoment(first) : null;
        return p ? isoDateTime(p, p.second === 0 ? 'minutes' : 'seconds') : null;
      }
      case 'file':
        return readFiles(els);
      case 'user':
      case 'department':
      case 'related': {
        const values = nonEmpty(els).map((el) => el.value.trim());
        if (multiple) return values;
        return values.length === 1 ? values[0] : null;
      }
      case 'quiz':
        if (widget === 'text') return first === null || !first.trim() ? null : first.trim();
        // falls through: a choice question
      default: { // select, radio, checkboxes: the option's typed value
        const values = nonEmpty(els).map((el) => (el.hasAttribute('data-json') ? parseJSON(el.getAttribute('data-json'), el.value) : el.value));
        if (multiple) return values;
        return values.length === 1 ? values[0] : null;
      }
    }
  }

  function rowsOf(table) {
    const body = table.querySelector('tbody[data-rows]');
    return body ? Array.from(body.children).filter((tr) => tr.hasAttribute('data-row')) : [];
  }

  function cellsOf(tr) {
    return Array.from(tr.querySelectorAll('[data-cell]'));
  }

  /** One row's values ({column: value}), or null when the browser would post nothing of it. */
  function readRow(tr) {
    const row = {};
    let present = false;
    cellsOf(tr).forEach((cell) => {
      const name = cell.getAttribute('data-name');
      if (posted(cell, name).length || posted(cell, name + '-start').length) present = true;
      row[cell.getAttribute('data-cell')] = readValue(cell, name);
    });
    return present ? row : null;
  }

  function readTable(table) {
    return rowsOf(table).map(readRow).filter((row) => row !== null);
  }

  function topFields(form) {
    return Array.from(form.querySelectorAll('[data-field]'));
  }

  function fieldEnv(form) {
    const env = {};
    topFields(form).forEach((w) => { env[w.getAttribute('data-field')] = readValue(w, w.getAttribute('data-field')); });
    return env;
  }

  // -- showing and computing -------------------------------------------------------------------------

  function hiddenWithin(el, form) {
    for (let node = el; node && node !== form; node = node.parentElement) {
      if (node.hidden) return true;
    }
    return false;
  }

  function setHidden(wrapper, hidden) {
    if (wrapper.hidden === hidden) return false;
    wrapper.hidden = hidden;
    return true;
  }

  /** Disable every input of a hidden field or cell, so that it is not posted; enable the others. */
  function syncDisabled(form) {
    form.querySelectorAll('[data-field] input, [data-field] select, [data-field] textarea, [data-field] button').forEach((el) => {
      const off = hiddenWithin(el, form);
      if (el.hasAttribute('data-add-row')) return; // decided by updateTables
      el.disabled = off;
    });
  }

  function words(form) {
    if (!form.__liaisonWords) form.__liaisonWords = parseJSON(form.getAttribute('data-words'), {});
    return form.__liaisonWords;
  }

  function formulaText(form, value, decimals) {
    if (value === null || value === undefined) return '';
    if (typeof value === 'boolean') return value ? words(form).yes || 'true' : words(form).no || 'false';
    if (typeof value === 'number') {
      if (decimals !== null) return roundHalfUp(value, decimals) || '';
      return plainNumber(value);
    }
    if (isList(value)) return value.map((v) => (typeof v === 'number' ? plainNumber(v) : isDict(v) ? JSON.stringify(v) : String(v))).join(', ');
    if (isDict(value)) return JSON.stringify(value);
    return String(value);
  }

  /** forms.build._formula: evaluate, None on error, rounded half up to the field's decimals. */
  function computeFormula(form, wrapper, env) {
    const output = wrapper.querySelector('output[data-formula]');
    if (!output) return null;
    const decimals = output.hasAttribute('data-decimals') ? Number(output.getAttribute('data-decimals')) : null;
    let value;
    try {
      value = evaluate(treeOf(output, 'data-formula'), env);
    } catch (err) {
      if (!(err instanceof ExpressionError)) throw err;
      value = null;
    }
    if (value === undefined) value = null;
    if (typeof value === 'number' && decimals !== null) {
      const text = roundHalfUp(value, decimals);
      value = text === null ? null : Number(text);
    }
    wrapper.setAttribute('data-value', JSON.stringify(value));
    output.textContent = formulaText(form, value, decimals);
    return value;
  }

  /** Row formulas (in the table's order), then the row's cell conditions; true when one changed. */
  function computeRow(form, table, tr) {
    const cells = {};
    cellsOf(tr).forEach((cell) => { cells[cell.getAttribute('data-cell')] = cell; });
    const env = {};
    Object.keys(cells).forEach((key) => { env[key] = readValue(cells[key], cells[key].getAttribute('data-name')); });
    parseJSON(table.getAttribute('data-formula-order'), []).forEach((key) => {
      if (cells[key]) env[key] = computeFormula(form, cells[key], env);
    });
    let changed = false;
    Object.keys(cells).forEach((key) => {
      const tree = treeOf(cells[key], 'data-visible-if');
      if (tree) changed = setHidden(cells[key], !truthy(tree, env, true)) || changed;
    });
    updateRequired(cells, env);
    return changed;
  }

  function updateRequired(wrappers, env) {
    Object.keys(wrappers).forEach((key) => {
      const w = wrappers[key];
      const tree = treeOf(w, 'data-required-if');
      if (!tree) return;
      const required = w.hasAttribute('data-required') || truthy(tree, env, false);
      w.querySelectorAll('.lf-required, [aria-required]').forEach((el) => {
        if (el.closest('[data-field], [data-cell]') !== w) return;
        if (el.classList.contains('lf-required')) el.hidden = !required;
        else el.setAttribute('aria-required', required ? 'true' : 'false');
      });
    });
  }

  /** build._sums: the exact decimal sum of the numbers of a column (other values are skipped). */
  function sumText(values, places) {
    let total = { neg: false, digits: '0', exp: 0 };
    values.forEach((v) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) return;
      const d = decParse(String(v));
      if (d) total = decAdd(total, d);
    });
    if (places !== null) return decText(total, places);
    return plainNumber(Number(decText(total, null)));
  }

  function updateTables(form) {
    form.querySelectorAll('[data-field][data-widget="table"]').forEach((table) => {
      const rows = readTable(table);
      table.querySelectorAll('output[data-sum-for]').forEach((output) => {
        const column = output.getAttribute('data-column');
        const places = output.hasAttribute('data-decimals') ? Number(output.getAttribute('data-decimals')) : null;
        output.textContent = sumText(rows.map((row) => row[column]), places);
      });
      const add = table.querySelector('[data-add-row]');
      if (add) {
        const max = Number(table.getAttribute('data-max-rows') || Infinity);
        add.disabled = hiddenWithin(table, form) || rowsOf(table).length >= max;
      }
    });
  }

  function updateCapitals(form) {
    form.querySelectorAll('output[data-capital-for]').forEach((output) => {
      const name = output.getAttribute('data-capital-for');
      const input = Array.from(form.querySelectorAll('input[data-money]')).find((el) => el.name === name);
      output.textContent = input ? capitalOrEmpty(input.value) : '';
    });
  }

  function updateDurations(form) {
    const calendar = parseJSON(form.getAttribute('data-calendar'), {}) || {};
    form.querySelectorAll('output[data-duration-for]').forEach((output) => {
      const wrapper = output.closest('[data-type="date_range"]');
      if (!wrapper) return;
      const name = output.getAttribute('data-duration-for');
      const start = Array.from(wrapper.querySelectorAll('input')).find((el) => el.name === name + '-start');
      const end = Array.from(wrapper.querySelectorAll('input')).find((el) => el.name === name + '-end');
      const unit = wrapper.getAttribute('data-unit') || 'days';
      const n = start && end && start.value && end.value ? rangeDuration(start.value, end.value, {
        unit: unit, workdays: wrapper.hasAttribute('data-workdays'),
        holidays: calendar.holidays, extra_workdays: calendar.extra_workdays,
      }) : null;
      output.textContent = n === null ? '' : plainNumber(n) + ' ' + (words(form)[unit] || unit);
    });
  }

  /** Recompute everything: rows, formulas and conditions until the visible set is stable. */
  function refresh(form) {
    const order = parseJSON(form.getAttribute('data-formula-order'), []);
    const tables = Array.from(form.querySelectorAll('[data-field][data-widget="table"]'));
    let env = {};
    const wrappers = {};
    topFields(form).forEach((w) => { wrappers[w.getAttribute('data-field')] = w; });
    for (let pass = 0; pass < 50; pass++) {
      let changed = false;
      tables.forEach((table) => rowsOf(table).forEach((tr) => { changed = computeRow(form, table, tr) || changed; }));
      env = fieldEnv(form);
      order.forEach((name) => {
        if (wrappers[name]) env[name] = computeFormula(form, wrappers[name], env);
      });
      Object.keys(wrappers).forEach((name) => {
        const tree = treeOf(wrappers[name], 'data-visible-if');
        if (tree) changed = setHidden(wrappers[name], !truthy(tree, env, true)) || changed;
      });
      syncDisabled(form);
      if (!changed) {
        updateRequired(wrappers, env);
        break;
      }
    }
    updateTables(form);
    updateCapitals(form);
    updateDurations(form);
    return env;
  }

  // -- table rows and repeated inputs ----------------------------------------------------------------

  function renumber(form, table) {
    const w = words(form);
    rowsOf(table).forEach((tr, i) => {
      tr.querySelectorAll('[data-row-label]').forEach((span) => { span.textContent = (w.row || '{n}').replace('{n}', i + 1); });
      const remove = tr.querySelector('[data-remove-row]');
      if (remove) remove.setAttribute('aria-label', (w.remove_row || '{n}').replace('{n}', i + 1));
    });
  }

  function addRow(form, table) {
    const template = table.querySelector('template[data-row-template]');
    const body = table.querySelector('tbody[data-rows]');
    if (!template || !body) return null;
    const max = Number(table.getAttribute('data-max-rows') || Infinity);
    if (rowsOf(table).length >= max) return null;
    let next = table.__liaisonNext;
    if (next === undefined) {
      next = rowsOf(table).reduce((m, tr) => Math.max(m, Number(tr.getAttribute('data-row')) + 1 || 0), 0);
    }
    table.__liaisonNext = next + 1;
    const fragment = template.content.cloneNode(true);
    fragment.querySelectorAll('*').forEach((el) => {
      Array.from(el.attributes).forEach((attr) => {
        if (attr.value.indexOf('__index__') >= 0) el.setAttribute(attr.name, attr.value.split('__index__').join(String(next)));
      });
    });
    const tr = fragment.querySelector('tr');
    body.appendChild(fragment);
    renumber(form, table);
    refresh(form);
    const focus = tr && tr.querySelector('input:not([disabled]), select:not([disabled]), textarea:not([disabled])');
    if (focus) focus.focus();
    return tr;
  }

  function removeRow(form, tr) {
    const table = tr.closest('[data-field]');
    const rows = rowsOf(table);
    const after = rows[rows.indexOf(tr) + 1];
    tr.remove();
    renumber(form, table);
    refresh(form);
    const focus = (after && after.querySelector('[data-remove-row]')) || table.querySelector('[data-add-row]');
    if (focus && !focus.disabled) focus.focus();
  }

  function addValue(form, button) {
    const name = button.getAttribute('data-add-value');
    const box = Array.from(form.querySelectorAll('[data-values-for]')).find((el) => el.getAttribute('data-values-for') === name);
    if (!box) return;
    const inputs = box.querySelectorAll('input:not([type=hidden])');  // not a picker's hidden value
    const model = inputs[inputs.length - 1];
    if (!model) return;
    let n = inputs.length;
    while (document.getElementById(name + '-v' + n)) n += 1;
    const span = document.createElement('span');
    span.className = 'lf-more';
    const label = document.createElement('label');
    label.className = 'lf-visually-hidden';
    label.htmlFor = name + '-v' + n;
    const main = form.querySelector('label[for="' + model.id.replace(/"/g, '') + '"]') || form.querySelector('label[for="' + name + '"]');
    label.textContent = (main ? main.textContent.replace('*', '').trim() : name) + ' ' + (inputs.length + 1);
    const input = model.cloneNode(false);
    input.id = name + '-v' + n;
    input.value = '';
    span.appendChild(label);
    span.appendChild(input);
    box.appendChild(span);
    input.focus();
  }

  function init(form) {
    if (!form || form.__liaison) return;
    form.__liaison = true;
    const onChange = () => refresh(form);
    form.addEventListener('input', onChange);
    form.addEventListener('change', onChange);
    form.addEventListener('click', (event) => {
      const target = event.target.closest ? event.target.closest('button') : null;
      if (!target || !form.contains(target)) return;
      if (target.hasAttribute('data-add-row')) {
        event.preventDefault();
        addRow(form, target.closest('[data-field]'));
      } else if (target.hasAttribute('data-remove-row')) {
        event.preventDefault();
        removeRow(form, target.closest('tr'));
      } else if (target.hasAttribute('data-add-value')) {
        event.preventDefault();
        addValue(form, target);
      }
    });
    form.querySelectorAll('[data-field][data-widget="table"]').forEach((table) => renumber(form, table));
    refresh(form);
  }

  // The little styling the widgets rely on; everything else is the page's.
  const STYLE = '.lf-visually-hidden{position:absolute!important;width:1px;height:1px;padding:0;margin:-1px;' +
    'overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap;border:0}[data-liaison-form] [hidden]{display:none!important}';

  function addStyle() {
    if (document.getElementById('liaison-forms-style') || !document.head) return;
    const style = document.createElement('style');
    style.id = 'liaison-forms-style';
    style.textContent = STYLE;
    document.head.appendChild(style);
  }

  function initAll() {
    addStyle();
    document.querySelectorAll('form[data-liaison-form]').forEach(init);
  }

  root.LiaisonForms = {
    ExpressionError: ExpressionError,
    evaluate: evaluate,
    truthy: truthy,
    toCapital: toCapital,
    cleanMoney: cleanMoney,
    rangeDuration: rangeDuration,
    roundHalfUp: roundHalfUp,
    readTable: readTable,
    init: init,
    refresh: refresh,
    addRow: addRow,
  };

  if (typeof document !== 'undefined') {
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', initAll);
    else initAll();
  }
}(typeof window !== 'undefined' ? window : this));
