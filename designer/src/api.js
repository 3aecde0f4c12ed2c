// JSON requests to the editor page's endpoints (H1's designer/editor.py), with the CSRF header.

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute('content') : '';
}

/** fetch() a JSON endpoint; resolves to {status, body} whatever the status (0: no answer); never rejects. */
export async function requestJSON(method, url, payload) {
  const init = {
    method,
    credentials: 'same-origin',
    headers: { 'Accept': 'application/json', 'X-CSRFToken': csrfToken() }
  };
  if (payload !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(payload);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    // offline, or the server is down: status 0 and a message, like any other refusal
    return { status: 0, body: { error: String(error.message || error) } };
  }
  let body = {};
  try {
    body = await response.json();
  } catch (error) {
    body = { error: response.statusText || String(response.status) };
  }
  return { status: response.status, body };
}

/** GET url?q=text -> [{value, label, detail}] (people and department search); [] on any failure. */
export async function search(url, text) {
  if (!url) {
    return [];
  }
  const sep = url.includes('?') ? '&' : '?';
  try {
    const { status, body } = await requestJSON('GET', `${url}${sep}q=${encodeURIComponent(text)}`);
    return status === 200 && Array.isArray(body) ? body : (body.results || []);
  } catch (error) {
    return [];
  }
}
