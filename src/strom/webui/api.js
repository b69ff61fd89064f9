// The REST calls of the web UI: same origin, Flink's paths, and the bearer token.
//
// When the server answers 401 (security.rest.token is set), the user is asked for the token
// once; it is kept in sessionStorage and sent as "Authorization: Bearer ..." on every request.

const TOKEN_KEY = "strom.rest.token";

export class RestError extends Error {
  constructor(status, path, errors) {
    super(`${status} on ${path}: ${errors.join("; ")}`);
    this.status = status;
    this.path = path;
    this.errors = errors;
  }
}

let askingForToken = null;

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

async function askForToken() {
  // one prompt for all the requests that were refused at the same time
  if (!askingForToken) {
    askingForToken = Promise.resolve().then(() => {
      const given = window.prompt(
        "This cluster's REST API needs a token (security.rest.token). Enter it:");
      if (given) sessionStorage.setItem(TOKEN_KEY, given.trim());
      return Boolean(given);
    }).finally(() => { setTimeout(() => { askingForToken = null; }, 0); });
  }
  return askingForToken;
}

async function errorsOf(response) {
  try {
    const body = await response.json();
    if (body && Array.isArray(body.errors)) return body.errors.map(String);
  } catch (e) { /* not JSON */ }
  return [response.statusText || "request failed"];
}

// fetch(path) with the token; JSON answers are parsed, other answers returned as text
export async function request(path, { method = "GET", body, form, text = false } = {}) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const headers = {};
    const stored = token();
    if (stored) headers["Authorization"] = `Bearer ${stored}`;
    let payload;
    if (form) payload = form;
    else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const response = await fetch(path, { method, headers, body: payload });
    if (response.status === 401 && attempt === 0) {
      if (stored) sessionStorage.removeItem(TOKEN_KEY);
      if (await askForToken()) continue;
    }
    if (!response.ok) throw new RestError(response.status, path, await errorsOf(response));
    if (text) return response.text();
    const type = response.headers.get("Content-Type") || "";
    return type.includes("json") ? response.json() : response.text();
  }
  throw new RestError(401, path, ["no token given"]);
}

export const get = (path, options) => request(path, options);

// a value or null when the call fails (an endpoint this cluster does not have yet)
export async function maybe(path, options) {
  try {
    return await request(path, options);
  } catch (e) {
    return null;
  }
}

// GET /.../metrics?get=a,b → {a: value, b: value} (numbers where they parse)
export async function metrics(path, names, agg) {
  const query = `get=${names.map(encodeURIComponent).join(",")}` + (agg ? `&agg=${agg}` : "");
  const answer = await maybe(`${path}?${query}`);
  const values = {};
  for (const entry of answer || []) {
    const value = agg ? entry[agg] : entry.value;
    const number = Number(value);
    values[entry.id] = value === undefined || value === null ? null
      : Number.isNaN(number) ? value : number;
  }
  return values;
}
