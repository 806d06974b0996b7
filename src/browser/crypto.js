// The WebCrypto calls the app makes, as one small module: written here,
// their promise chains cost a few hundred bytes instead of several KB of
// compiled wasm (bench/README.md). Keys stay CryptoKey objects; nothing
// here stores or logs a key, a token or a proof.

const ecdsa = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
const rsa = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };

// A P-256 key pair whose private key cannot be exported (not even by this
// page); resolves to [privateKey, x, y], the public key's JWK coordinates.
export async function dpopKey() {
  const pair = await crypto.subtle.generateKey(ecdsa, false, ["sign"]);
  const jwk = await crypto.subtle.exportKey("jwk", pair.publicKey);
  return [pair.privateKey, jwk.x, jwk.y];
}

// ES256 over the text `input`; resolves to the signature (r || s, the JWS
// form) in base64url.
export async function signEs256(key, input) {
  const signature = await crypto.subtle.sign(ecdsa, key, new TextEncoder().encode(input));
  return btoa(String.fromCharCode(...new Uint8Array(signature)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// RS256 with the public key (n, e): only those numbers, since `use`,
// `key_ops` or `alg` values spelt differently would make importKey refuse
// a good key. Resolves to whether the signature holds.
export async function verifyRs256(n, e, signature, data) {
  const key = await crypto.subtle.importKey("jwk", { kty: "RSA", n, e }, rsa, false, ["verify"]);
  return crypto.subtle.verify(rsa, key, signature, data);
}
