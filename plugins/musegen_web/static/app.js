const $ = (id) => document.getElementById(id);
const form = $("compose");
let runs = {};

function say(text, bad) { const s = $("status"); s.textContent = text; s.className = bad ? "status error" : "status"; }

async function api(path, options) {
  const reply = await fetch(path, options);
  const data = await reply.json().catch(() => ({error: "the server's answer was not JSON"}));
  if (!reply.ok) throw new Error(data.error || ("HTTP " + reply.status));
  return data;
}

function fill(select, values) {
  select.length = 1;
  for (const v of values || []) { const o = document.createElement("option"); o.value = o.textContent = v; select.add(o); }
}

function chooseRun() {
  const run = runs[form.run.value];
  if (!run) return;
  const c = run.choices || {};
  for (const name of ["type", "meter", "key"]) { fill(form[name], c[name]); form[name].disabled = !run.choices; }
  form.parts.disabled = form.bars.disabled = !run.choices;
  form.temperature.placeholder = run.temperature;
}

function settings() {
  const out = {run: form.run.value};
  for (const name of ["type", "meter", "key", "prime"]) if (form[name].value) out[name] = form[name].value;
  for (const name of ["parts", "bars", "tunes", "seed"]) if (form[name].value !== "") out[name] = Number(form[name].value);
  if (form.temperature.value !== "") out.temperature = Number(form.temperature.value);
  return out;
}

function show(made) {
  $("tunes").innerHTML = made.html;
  const s = made.settings;
  say(`${made.tunes.length} tunes from ${made.run} in ${made.seconds} s (seed ${s.seed}).`);
}

function use(s) {
  form.run.value = s.run; chooseRun();
  for (const name of ["type", "meter", "key", "parts", "bars", "tunes", "temperature", "seed", "prime"])
    form[name].value = s[name] !== undefined ? s[name] : (name === "tunes" ? 4 : "");
}

async function history() {
  const list = $("history");
  const {history} = await api("/api/history");
  list.replaceChildren();
  for (const h of history) {
    const li = document.createElement("li");
    const titles = (h.tunes || []).map((t) => t.title).join(", ");
    const asked = ["type", "meter", "key"].map((k) => h.settings[k]).filter(Boolean).join(" ");
    li.innerHTML = `<span class="when"></span><br><span class="what"></span><br>`;
    li.querySelector(".when").textContent = `${(h.made || "").replace("T", " ")} · ${h.run} · seed ${h.settings.seed}`;
    li.querySelector(".what").textContent = (asked ? asked + ": " : "") + titles;
    const open = document.createElement("button"); open.className = "quiet"; open.type = "button"; open.textContent = "Show";
    open.onclick = async () => { try { show(await api(`/api/compositions/${encodeURIComponent(h.run)}/${encodeURIComponent(h.id)}`)); } catch (e) { say(e.message, true); } };
    const again = document.createElement("button"); again.className = "quiet"; again.type = "button"; again.textContent = "Use settings";
    again.onclick = () => { use({...h.settings, run: h.run}); say("Settings loaded: Compose makes the same tunes; clear the seed to vary them."); };
    li.append(open, " ", again);
    list.append(li);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  $("go").disabled = true;
  say("Composing…");
  try { show(await api("/api/compose", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(settings())})); history(); }
  catch (e) { say(e.message, true); }
  finally { $("go").disabled = false; }
});
form.run.addEventListener("change", chooseRun);

(async () => {
  try {
    const data = await api("/api/runs");
    for (const r of data.runs) { runs[r.name] = r; const o = document.createElement("option"); o.value = o.textContent = r.name; form.run.add(o); }
    chooseRun();
    await history();
  } catch (e) { say(e.message, true); }
})();
