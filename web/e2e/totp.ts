import { createHmac } from 'node:crypto';

const kBase32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const kStepSeconds = 30;
const kDigits = 6;

function base32Decode(text: string): Buffer {
  let bits = 0;
  let value = 0;
  const bytes: number[] = [];
  for (const char of text.replace(/=+$/, '').toUpperCase()) {
    const index = kBase32.indexOf(char);
    if (index < 0) throw new Error(`not base32: ${char}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(bytes);
}

/** The RFC 6238 code (HMAC-SHA1, 6 digits, 30 s) of a base32 secret at `unixSeconds`. */
export function totp(secret: string, unixSeconds: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / kStepSeconds)));
  const mac = createHmac('sha1', base32Decode(secret)).update(counter).digest();
  const offset = (mac[mac.length - 1] ?? 0) & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** kDigits;
  return code.toString().padStart(kDigits, '0');
}

/** The step after the current one: the server takes one step either way, and each step once. */
export function nextTotp(secret: string): string {
  return totp(secret, Date.now() / 1000 + kStepSeconds);
}
