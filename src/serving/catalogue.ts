/** One condition of a recommendation filter: the item's attribute equals one of the values (or, for a list, holds one). */
export interface AttributeFilter {
  attribute: string;
  values: string[];
}

/** A filter string that does not parse; the route answers 400. */
export class FilterSyntaxError extends Error {}

const MAX_CONDITIONS = 8;
const MAX_VALUES = 50;

/**
 * Parses `attribute:value1,value2;other:value`: conditions separated by `;` must all hold, the
 * values of one condition are alternatives. Values are matched as text, exactly.
 */
export function parseFilter(text: string): AttributeFilter[] {
  const conditions = text.split(';').filter((c) => c.trim() !== '');
  if (conditions.length === 0) throw new FilterSyntaxError('filter is empty; expected attribute:value[,value…][;attribute:value…]');
  if (conditions.length > MAX_CONDITIONS) throw new FilterSyntaxError(`filter has more than ${MAX_CONDITIONS} conditions`);
  return conditions.map((c) => {
    const at = c.indexOf(':');
    const attribute = c.slice(0, at).trim();
    const values = c
      .slice(at + 1)
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v !== '');
    if (at < 1 || attribute === '' || values.length === 0) {
      throw new FilterSyntaxError(`filter condition "${c}" is not attribute:value[,value…]`);
    }
    if (values.length > MAX_VALUES) throw new FilterSyntaxError(`filter condition on ${attribute} has more than ${MAX_VALUES} values`);
    return { attribute, values };
  });
}

/** The values an attribute holds, as text: a list gives each of its scalar elements. */
function valuesOf(v: unknown): string[] {
  const scalar = (x: unknown) => (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean' ? [String(x)] : []);
  return Array.isArray(v) ? v.flatMap(scalar) : scalar(v);
}

/**
 * What serving needs to know of items beyond the model: which are hidden, and an index of their
 * attributes for filters. Built once at start-up from the store and kept current by the routes
 * that change items (after the writer has committed), so a request never scans the items table.
 */
export class Catalogue {
  private readonly hiddenIds = new Set<string>();
  /** attribute → value → items. */
  private readonly index = new Map<string, Map<string, Set<string>>>();
  private readonly attributesOf = new Map<string, Record<string, unknown>>();

  constructor(rows: Iterable<{ itemId: string; attributes: Record<string, unknown> | null; hidden: boolean }> = []) {
    for (const r of rows) this.setItem(r.itemId, r.attributes, r.hidden);
  }

  get hidden(): ReadonlySet<string> {
    return this.hiddenIds;
  }

  isHidden(itemId: string): boolean {
    return this.hiddenIds.has(itemId);
  }

  /** An item's attributes replaced and, unless `hidden` is undefined, its flag set. */
  setItem(itemId: string, attributes: Record<string, unknown> | null, hidden?: boolean): void {
    this.unindex(itemId);
    if (attributes) {
      this.attributesOf.set(itemId, attributes);
      for (const [attribute, v] of Object.entries(attributes)) {
        let byValue = this.index.get(attribute);
        if (!byValue) this.index.set(attribute, (byValue = new Map<string, Set<string>>()));
        for (const value of valuesOf(v)) {
          let items = byValue.get(value);
          if (!items) byValue.set(value, (items = new Set<string>()));
          items.add(itemId);
        }
      }
    }
    if (hidden === true) this.hiddenIds.add(itemId);
    else if (hidden === false) this.hiddenIds.delete(itemId);
  }

  removeItem(itemId: string): void {
    this.unindex(itemId);
    this.hiddenIds.delete(itemId);
  }

  private unindex(itemId: string): void {
    const old = this.attributesOf.get(itemId);
    if (!old) return;
    this.attributesOf.delete(itemId);
    for (const [attribute, v] of Object.entries(old)) {
      const byValue = this.index.get(attribute);
      for (const value of valuesOf(v)) byValue?.get(value)?.delete(itemId);
    }
  }

  /** The items every condition holds for, hidden ones left out. */
  matching(filters: readonly AttributeFilter[]): string[] {
    let result: string[] | null = null;
    for (const f of filters) {
      const byValue = this.index.get(f.attribute);
      const any = new Set<string>();
      for (const value of f.values) for (const id of byValue?.get(value) ?? []) any.add(id);
      result = result === null ? [...any] : result.filter((id) => any.has(id));
    }
    return (result ?? []).filter((id) => !this.hiddenIds.has(id));
  }
}
