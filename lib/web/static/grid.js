// The Gallery grid (lib/ui/grid.py): builds the tiles from the page's data, as text.
// What a compact tile stands for: the same rules as describe() in lib/ui/grid.py.
function describe(d, q) {
  const batch = Boolean(d.batch);
  const src = d.src || `/api/v1/images/${d.id}/thumbnail?${q}&sig=${d.sig}`;
  const short = d.prompt.length <= 68 ? d.prompt : d.prompt.slice(0, 67) + "\u2026";
  return {
    id: d.id, src: src, prompt: d.prompt, caption: d.facts + " \u2014 " + short,
    badge: batch ? `Batch of ${d.n} images` : "",
    label: (batch ? `Open batch of ${d.n}: ` : "Open image: ") + d.prompt,
    event: batch ? "batch" : "open", target: batch ? d.batch : d.id,
  };
}

export default function ({ parentElement, data, setTriggerValue }) {
  const root = parentElement.querySelector(".pb-grid");
  const text = typeof data === "string" ? data : new TextDecoder().decode(data);
  if (root.dataset.payload === text) return;  // same page of tiles: keep the DOM as it is
  root.dataset.payload = text;
  const page = JSON.parse(text);
  root.replaceChildren(...page.tiles.map((d) => {
    const t = describe(d, page.q);
    const tile = document.createElement("button");
    tile.type = "button";
    tile.className = "pb-tile";
    tile.dataset.id = t.id;
    tile.setAttribute("aria-label", t.label);
    tile.title = t.prompt;
    const img = document.createElement("img");
    img.src = t.src;
    img.alt = t.prompt;
    img.loading = "lazy";
    tile.append(img);
    if (t.badge) {
      const badge = document.createElement("span");
      badge.className = "pb-badge";
      badge.textContent = t.badge;
      tile.append(badge);
    }
    const cap = document.createElement("span");
    cap.className = "pb-cap";
    cap.textContent = t.caption;
    tile.append(cap);
    tile.addEventListener("click", () => setTriggerValue(t.event, t.target));
    return tile;
  }));
}
