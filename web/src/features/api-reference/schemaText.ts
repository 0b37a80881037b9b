import { refName } from './reference';
import type { Schema } from './types';

function json(value: unknown): string {
  return JSON.stringify(value);
}

function typesOf(schema: Schema): string[] {
  if (Array.isArray(schema.type)) {
    return schema.type;
  }
  if (schema.type !== undefined) {
    return [schema.type];
  }
  if (schema.properties !== undefined) {
    return ['object'];
  }
  if (schema.items !== undefined) {
    return ['array'];
  }
  return [];
}

/**
 * A schema's type in a few words: "string", "integer | null", "array of string", "Problem" (a
 * `$ref`), "enum" (the values are listed as a constraint), "any".
 */
export function typeLabel(schema: Schema): string {
  if (schema.$ref !== undefined) {
    return refName(schema.$ref);
  }
  if (schema.const !== undefined) {
    return `constant ${json(schema.const)}`;
  }
  const variants = schema.oneOf ?? schema.anyOf;
  if (variants !== undefined) {
    return variants.map(typeLabel).join(' | ');
  }
  if (schema.allOf !== undefined) {
    return schema.allOf.map(typeLabel).join(' & ');
  }
  const types = typesOf(schema);
  if (types.length === 0) {
    return schema.enum === undefined ? 'any' : 'enum';
  }
  return types
    .map((type) => {
      if (type === 'array') {
        return `array of ${schema.items === undefined ? 'any' : typeLabel(schema.items)}`;
      }
      if (schema.format !== undefined && type !== 'object') {
        return `${type} (${schema.format})`;
      }
      return type;
    })
    .join(' | ');
}

/** The limits a schema puts on its value, each as a short phrase ("at most 254 characters"). */
export function constraintsOf(schema: Schema): string[] {
  const out: string[] = [];
  if (schema.enum !== undefined) {
    out.push(`one of ${schema.enum.map(json).join(', ')}`);
  }
  if (schema.minimum !== undefined) out.push(`≥ ${schema.minimum}`);
  if (schema.exclusiveMinimum !== undefined) out.push(`> ${schema.exclusiveMinimum}`);
  if (schema.maximum !== undefined) out.push(`≤ ${schema.maximum}`);
  if (schema.exclusiveMaximum !== undefined) out.push(`< ${schema.exclusiveMaximum}`);
  if (schema.minLength !== undefined) out.push(`at least ${schema.minLength} characters`);
  if (schema.maxLength !== undefined) out.push(`at most ${schema.maxLength} characters`);
  if (schema.pattern !== undefined) out.push(`matches ${schema.pattern}`);
  if (schema.minItems !== undefined) out.push(`at least ${schema.minItems} items`);
  if (schema.maxItems !== undefined) out.push(`at most ${schema.maxItems} items`);
  if (schema.additionalProperties === false) out.push('no other properties');
  if (schema.default !== undefined) out.push(`default ${json(schema.default)}`);
  return out;
}

/**
 * The schema whose properties are listed under a property: its own, or its items' when it is an
 * array of objects. Undefined when there is nothing to unfold.
 */
export function nestedObject(schema: Schema): Schema | undefined {
  if (schema.properties !== undefined) {
    return schema;
  }
  if (schema.items?.properties !== undefined) {
    return schema.items;
  }
  return undefined;
}
