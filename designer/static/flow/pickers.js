// Search boxes over the directory (/directory/people?q=, /directory/departments?q=): type, pick one.
import { api, h, debounce } from "./dom.js";

// A search input whose suggestions are buttons; `onPick({value, label})` is called with the chosen one.
export function searchBox(url, placeholder, onPick, testId) {
  const list = h("ul", { class: "flow-suggestions", role: "listbox" });
  const input = h("input", { type: "search", placeholder, "aria-label": placeholder, autocomplete: "off",
                             dataset: { testid: testId || "" } });
  const search = debounce(async () => {
    const q = input.value.trim();
    list.replaceChildren();
    if (!q || !url) return;
    const { status, body } = await api(`${url}?q=${encodeURIComponent(q)}`);
    if (status !== 200 || !Array.isArray(body) || input.value.trim() !== q) return;
    list.replaceChildren(...body.map((hit) => h("li", {}, h("button", {
      type: "button", class: "flow-suggestion", dataset: { value: hit.value },
      onclick: () => { list.replaceChildren(); input.value = ""; onPick(hit); },
    }, hit.label, h("small", {}, ` ${hit.detail || ""}`)))));
  }, 250);
  input.addEventListener("input", search);
  return h("div", { class: "flow-search" }, input, list);
}

// Display names of usernames (people?names=a,b), merged into `names`.
export async function loadNames(url, usernames, names) {
  const missing = usernames.filter((u) => !(u in names));
  for (let i = 0; i < missing.length; i += 10) {
    const part = missing.slice(i, i + 10);
    const { status, body } = await api(`${url}?names=${encodeURIComponent(part.join(","))}`);
    if (status === 200 && Array.isArray(body)) body.forEach((hit) => { names[hit.value] = hit.label; });
  }
}
