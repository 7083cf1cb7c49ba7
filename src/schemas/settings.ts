import { Type, type TSchema } from '@sinclair/typebox';
import type { Setting, SettingsTable } from '../engine/settings-table';

/**
 * The schema of one training setting, from its table entry: its range as JSON Schema keywords,
 * its meaning as the description and its default. (Body defaults are documentation only: the
 * body validator does not fill them in.)
 */
export function settingSchema(s: Setting, description = s.description): TSchema {
  const doc = s.default === undefined ? { description } : { description, default: s.default };
  switch (s.type) {
    case 'integer': {
      const range = { minimum: s.min, ...(s.max === undefined ? {} : { maximum: s.max }) };
      return s.auto ? Type.Union([Type.Integer(range), Type.Literal('auto')], doc) : Type.Integer({ ...range, ...doc });
    }
    case 'number':
      return s.auto
        ? Type.Union([Type.Number({ minimum: s.min, maximum: s.max }), Type.Literal('auto')], doc)
        : Type.Number({ minimum: s.min, maximum: s.max, ...doc });
    case 'boolean':
      return Type.Boolean(doc);
    case 'enum':
      return Type.Union(
        s.values.map((v) => Type.Literal(v)),
        doc,
      );
    case 'integers':
      return Type.Array(Type.Integer({ minimum: s.min, maximum: s.max }), { minItems: s.count, maxItems: s.count, ...doc });
  }
}

/** Optional properties for every setting of a table, leaving out `omit`. */
export function settingProperties<S>(table: SettingsTable<S>, omit: readonly string[] = []): Record<string, TSchema> {
  const out: Record<string, TSchema> = {};
  for (const [name, s] of Object.entries<Setting>(table)) {
    if (!omit.includes(name)) out[name] = Type.Optional(settingSchema(s));
  }
  return out;
}

/** A closed object of one kind's settings. */
export function settingsObject<S>(table: SettingsTable<S>, description: string) {
  return Type.Object(settingProperties(table), { additionalProperties: false, description });
}
