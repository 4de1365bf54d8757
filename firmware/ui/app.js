"use strict";
// Smart Connect web UI: one page, no libraries. The device's CSP forbids inline code and
// style attributes, so everything is wired here. Data from outside (SSID, site, meter
// text, errors) only ever goes in as text: textContent, append(string), input.value.

// ---- Language: English, Dutch or French, the browser's first one we have ----
const L = {
  en: {
    login: "Log in", Password: "Password", logout: "Log out", status: "Status",
    settings: "Settings", maint: "Maintenance", badpw: "Wrong password.",
    locked: "Too many failed logins. Try again in %s.",
    active: "Another session is active. It ends in %s at the latest (sooner if that user " +
      "logs out).",
    expired: "Your session has ended. Please log in again.",
    offline: "No connection to the device.", error: "Error", liveValues: "Live values",
    netPower: "Net power (import − export)", chart: "net power", now: "now", power: "Power",
    current: "Current",
    voltage: "Voltage", imp: "Import", exp: "Export", eImp: "Energy import",
    eExp: "Energy export", tariff: "Tariff", gas: "Gas", water: "Water",
    meterTime: "Meter time", system: "System", serial: "Serial", version: "Version",
    board: "Board", uptime: "Uptime", reset: "Last reset", time: "Device time",
    meter: "Meter", protocol: "Protocol", age: "Last telegram", ago: "%s ago",
    valid: "Valid telegrams", rejected: "Rejected", dropped: "Dropped", noise: "Noise bytes",
    lastError: "Last error", line: "Line", network: "Network", link: "Link",
    internet: "Internet", iface: "Interface", address: "Address", method: "Method",
    state: "State", broker: "Broker", sent: "Published", connects: "Connects",
    failures: "Failures", retry: "Retry in", yes: "yes", no: "no", unknown: "unknown",
    stale: "stale", save: "Save", saving: "Saving…", saved: "Saved.",
    appliedNow: "Applied now: %s.", afterReboot: "Takes effect after a reboot: %s.",
    nochange: "Nothing changed.", show: "Show", hide: "Hide", restart: "Restart and reset",
    reboot: "Reboot", soft: "Soft reset", factory: "Factory reset",
    confirmFactory: "Erase the whole configuration and reboot? The device identity and " +
      "password stay.", erase: "Yes, erase", cancel: "Cancel",
    restarting: "The device is restarting…", back: "The device is back. Please log in.",
    firmware: "Firmware", build: "Build", update: "Update", ring: "Modbus requests",
    client: "Client", fn: "Func.", unit: "Unit", count: "Count", result: "Result",
    clients: "Clients now", requests: "Requests", exceptions: "Exceptions",
    unmapped: "Reads outside the template (wrong template?)",
    none: "None yet.", raw: "Raw telegram", readRaw: "Read one telegram",
    waiting: "Waiting for the meter (up to 15 s)…", textMsg: "Text message",
    cfgErr: "Configuration file problem, defaults in use: %s",
    secure: "Security version", slot: "Slot", previous: "Previous version",
    noSlot: "none (this image cannot be updated over the network)",
    "u:idle": "none", "u:receiving": "receiving", "u:verifying": "verifying",
    "u:rebooting": "restarting", "u:trial": "on trial", "u:valid": "valid",
    "u:rolled-back": "rolled back", "u:refused": "refused", "u:failed": "failed",
    "u:interrupted": "interrupted",
    fwFile: "Firmware image (.bin)", install: "Install", sending: "Sending the image…",
    checking: "Sent. The device checks the image…",
    verified: "Image %s verified. The device is restarting into it (a few seconds, up to " +
      "a minute)…",
    refusedBy: "The device refused the image: %s", broke: "The upload broke off: %s",
    upBack: "The device is back, running version %s. Please log in.",
    running: "Version %s is running.",
    DefaultNetIf: "Default interface", IpMode: "Addressing", IpAddress: "IP address",
    Netmask: "Prefix length (e.g. 24)", Gateway: "Gateway", DNS: "DNS server",
    SSID: "Network name (SSID)", Enabled: "Enabled", Broker: "Broker (mqtts://host:port)",
    Username: "Username", Site: "Site", HomeAssistant: "Home Assistant discovery",
    MeterType: "Register template", StaleAfter: "Stale after (s)",
    IdleTimeout: "Idle timeout (s)", Address: "Modbus address (1–247)", Baud: "Baud rate",
    Parity: "Data bits, parity, stop bits",
  },
  nl: {
    login: "Inloggen", Password: "Wachtwoord", logout: "Uitloggen", status: "Status",
    settings: "Instellingen", maint: "Onderhoud", badpw: "Onjuist wachtwoord.",
    locked: "Te veel mislukte pogingen. Probeer het over %s opnieuw.",
    active: "Er is al een andere sessie actief. Die eindigt uiterlijk over %s (eerder als " +
      "die gebruiker uitlogt).",
    expired: "Je sessie is beëindigd. Log opnieuw in.",
    offline: "Geen verbinding met het apparaat.", error: "Fout", liveValues: "Actuele waarden",
    netPower: "Nettovermogen (afname − teruglevering)", chart: "nettovermogen",
    now: "nu", power: "Vermogen",
    current: "Stroom", voltage: "Spanning", imp: "Afname", exp: "Teruglevering",
    eImp: "Energie afgenomen", eExp: "Energie teruggeleverd", tariff: "Tarief", gas: "Gas",
    water: "Water", meterTime: "Metertijd", system: "Systeem", serial: "Serienummer",
    version: "Versie", board: "Bord", uptime: "Looptijd", reset: "Laatste herstart",
    time: "Apparaattijd", meter: "Meter", protocol: "Protocol", age: "Laatste telegram",
    ago: "%s geleden", valid: "Geldige telegrammen", rejected: "Geweigerd",
    dropped: "Verloren", noise: "Ruisbytes", lastError: "Laatste fout", line: "Lijn",
    network: "Netwerk", link: "Link", internet: "Internet", iface: "Interface",
    address: "Adres", method: "Methode", state: "Toestand", broker: "Broker",
    sent: "Verzonden", connects: "Verbindingen", failures: "Mislukt",
    retry: "Opnieuw over", yes: "ja", no: "nee", unknown: "onbekend", stale: "verouderd",
    save: "Opslaan", saving: "Opslaan…", saved: "Opgeslagen.",
    appliedNow: "Direct toegepast: %s.", afterReboot: "Actief na een herstart: %s.",
    nochange: "Niets gewijzigd.", show: "Toon", hide: "Verberg", restart: "Herstart en reset",
    reboot: "Herstarten", soft: "Zachte reset", factory: "Fabrieksinstellingen",
    confirmFactory: "De hele configuratie wissen en herstarten? De identiteit en het " +
      "wachtwoord van het apparaat blijven.", erase: "Ja, wissen", cancel: "Annuleren",
    restarting: "Het apparaat herstart…", back: "Het apparaat is terug. Log opnieuw in.",
    firmware: "Firmware", build: "Build", update: "Update", ring: "Modbus-verzoeken",
    client: "Client", fn: "Func.", unit: "Unit", count: "Aantal", result: "Resultaat",
    clients: "Clients nu", requests: "Verzoeken", exceptions: "Excepties",
    unmapped: "Leesacties buiten het sjabloon (verkeerd sjabloon?)",
    none: "Nog geen.", raw: "Ruw telegram", readRaw: "Lees één telegram",
    waiting: "Wachten op de meter (max. 15 s)…", textMsg: "Tekstbericht",
    cfgErr: "Probleem met het configuratiebestand, standaardwaarden in gebruik: %s",
    secure: "Beveiligingsversie", slot: "Slot", previous: "Vorige versie",
    noSlot: "geen (deze image kan niet via het netwerk worden bijgewerkt)",
    "u:idle": "geen", "u:receiving": "wordt ontvangen", "u:verifying": "wordt gecontroleerd",
    "u:rebooting": "herstart", "u:trial": "op proef", "u:valid": "goedgekeurd",
    "u:rolled-back": "teruggedraaid", "u:refused": "geweigerd", "u:failed": "mislukt",
    "u:interrupted": "onderbroken",
    fwFile: "Firmware-image (.bin)", install: "Installeren",
    sending: "De image wordt verzonden…",
    checking: "Verzonden. Het apparaat controleert de image…",
    verified: "Image %s is geverifieerd. Het apparaat herstart ermee (enkele seconden, tot " +
      "een minuut)…",
    refusedBy: "Het apparaat weigerde de image: %s", broke: "Het verzenden brak af: %s",
    upBack: "Het apparaat is terug en draait versie %s. Log opnieuw in.",
    running: "Versie %s draait.",
    DefaultNetIf: "Standaardinterface", IpMode: "Adressering", IpAddress: "IP-adres",
    Netmask: "Prefixlengte (bv. 24)", Gateway: "Gateway", DNS: "DNS-server",
    SSID: "Netwerknaam (SSID)", Enabled: "Ingeschakeld",
    Broker: "Broker (mqtts://host:poort)", Username: "Gebruikersnaam", Site: "Locatie",
    HomeAssistant: "Home Assistant-detectie", MeterType: "Registersjabloon",
    StaleAfter: "Verouderd na (s)", IdleTimeout: "Time-out bij inactiviteit (s)",
    Address: "Modbus-adres (1–247)", Baud: "Baudrate", Parity: "Databits, pariteit, stopbits",
  },
  fr: {
    login: "Connexion", Password: "Mot de passe", logout: "Déconnexion", status: "État",
    settings: "Réglages", maint: "Maintenance", badpw: "Mot de passe incorrect.",
    locked: "Trop d’échecs. Réessayez dans %s.",
    active: "Une autre session est active. Elle se termine au plus tard dans %s (plus tôt " +
      "si cet utilisateur se déconnecte).",
    expired: "Votre session est terminée. Reconnectez-vous.",
    offline: "Pas de connexion avec l’appareil.", error: "Erreur",
    liveValues: "Valeurs en direct", chart: "puissance nette",
    netPower: "Puissance nette (soutirage − injection)",
    now: "maintenant", power: "Puissance", current: "Courant", voltage: "Tension",
    imp: "Soutirage", exp: "Injection", eImp: "Énergie soutirée", eExp: "Énergie injectée",
    tariff: "Tarif", gas: "Gaz", water: "Eau", meterTime: "Heure du compteur",
    system: "Système", serial: "Numéro de série", version: "Version", board: "Carte",
    uptime: "Temps de fonctionnement", reset: "Dernier redémarrage",
    time: "Heure de l’appareil", meter: "Compteur", protocol: "Protocole",
    age: "Dernier télégramme", ago: "il y a %s", valid: "Télégrammes valides",
    rejected: "Rejetés", dropped: "Perdus", noise: "Octets parasites",
    lastError: "Dernière erreur", line: "Ligne", network: "Réseau", link: "Lien",
    internet: "Internet", iface: "Interface", address: "Adresse", method: "Méthode",
    state: "État", broker: "Broker", sent: "Publiés", connects: "Connexions",
    failures: "Échecs", retry: "Nouvel essai dans", yes: "oui", no: "non",
    unknown: "inconnu", stale: "périmé", save: "Enregistrer", saving: "Enregistrement…",
    saved: "Enregistré.", appliedNow: "Appliqué tout de suite : %s.",
    afterReboot: "Effectif après un redémarrage : %s.", nochange: "Rien n’a changé.",
    show: "Afficher", hide: "Masquer", restart: "Redémarrage", reboot: "Redémarrer",
    soft: "Redémarrage logiciel", factory: "Réglages d’usine",
    confirmFactory: "Effacer toute la configuration et redémarrer ? L’identité et le mot " +
      "de passe de l’appareil restent.", erase: "Oui, effacer", cancel: "Annuler",
    restarting: "L’appareil redémarre…", back: "L’appareil est de retour. Reconnectez-vous.",
    firmware: "Micrologiciel", build: "Build", update: "Mise à jour",
    ring: "Requêtes Modbus", client: "Client", fn: "Fonc.", unit: "Unité",
    clients: "Clients actuels", requests: "Requêtes", exceptions: "Exceptions",
    unmapped: "Lectures hors du modèle (mauvais modèle ?)",
    count: "Nombre", result: "Résultat", none: "Aucune pour l’instant.",
    raw: "Télégramme brut", readRaw: "Lire un télégramme",
    waiting: "En attente du compteur (15 s au plus)…", textMsg: "Message texte",
    cfgErr: "Problème de fichier de configuration, valeurs par défaut : %s",
    secure: "Version de sécurité", slot: "Emplacement", previous: "Version précédente",
    noSlot: "aucun (cette image ne peut pas être mise à jour par le réseau)",
    "u:idle": "aucune", "u:receiving": "réception", "u:verifying": "vérification",
    "u:rebooting": "redémarrage", "u:trial": "à l’essai", "u:valid": "validée",
    "u:rolled-back": "annulée, version précédente rétablie", "u:refused": "refusée",
    "u:failed": "échouée", "u:interrupted": "interrompue",
    fwFile: "Image du micrologiciel (.bin)", install: "Installer",
    sending: "Envoi de l’image…", checking: "Envoyée. L’appareil vérifie l’image…",
    verified: "Image %s vérifiée. L’appareil redémarre avec elle (quelques secondes, " +
      "jusqu’à une minute)…",
    refusedBy: "L’appareil a refusé l’image : %s", broke: "L’envoi s’est interrompu : %s",
    upBack: "L’appareil est de retour avec la version %s. Reconnectez-vous.",
    running: "La version %s fonctionne.",
    DefaultNetIf: "Interface par défaut", IpMode: "Adressage", IpAddress: "Adresse IP",
    Netmask: "Longueur de préfixe (ex. 24)", Gateway: "Passerelle", DNS: "Serveur DNS",
    SSID: "Nom du réseau (SSID)", Enabled: "Activé", Broker: "Broker (mqtts://hôte:port)",
    Username: "Utilisateur", Site: "Site", HomeAssistant: "Découverte Home Assistant",
    MeterType: "Modèle de registres", StaleAfter: "Périmé après (s)",
    IdleTimeout: "Délai d’inactivité (s)", Address: "Adresse Modbus (1–247)",
    Baud: "Débit (bauds)", Parity: "Bits de données, parité, bits d’arrêt",
  },
};
const lang = (navigator.languages || [navigator.language || "en"])
  .map((l) => l.slice(0, 2).toLowerCase()).find((l) => L[l]) || "en";
// t("key", arg): the text, with %s replaced by arg (which is only ever text)
const t = (k, a) => (L[lang][k] || L.en[k] || k).replace("%s", a);
const $ = (id) => document.getElementById(id);
const num = new Intl.NumberFormat(lang, {maximumFractionDigits: 3});

// An element with properties and children; strings become text nodes, never markup.
function h(tag, props, ...kids) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...kids);
  return e;
}

function fmt(v, unit) {
  if (v === null || v === undefined || v === "") return "–";
  if (typeof v === "boolean") return t(v ? "yes" : "no");
  return (typeof v === "number" ? num.format(v) : String(v)) + (unit ? " " + unit : "");
}

function dur(s) {
  s = Math.max(0, Math.round(s));
  const d = Math.floor(s / 86400), hr = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  return d ? d + " d " + hr + " h" : hr ? hr + " h " + m + " min" :
    m ? m + " min " + (s % 60) + " s" : s + " s";
}

// A definition list from [label key, value] pairs; rebuilt whole, values as text.
function rows(dl, pairs) {
  dl.replaceChildren(...pairs.flatMap(([k, v]) =>
    [h("dt", {}, t(k)), h("dd", {}, typeof v === "string" ? v : fmt(v))]));
}

function msg(el, text, cls) {
  el.textContent = text || "";
  el.className = "msg " + (cls || "");
}

// ---- API: every request marked as the UI's, the session cookie sent same-origin ----
async function api(method, path, body, auth) {
  const headers = {"X-SC-UI": "1"};
  if (body) headers["Content-Type"] = "application/json";
  if (auth) headers.Authorization = auth;
  let r;
  // The device takes only a few connections at once: on 503 it says when to come back.
  for (let i = 0; i < 3; i++) {
    try {
      r = await fetch(path, {method, headers, credentials: "same-origin", cache: "no-store",
        body: body ? JSON.stringify(body) : undefined});
    } catch (e) {
      return {s: 0, d: {reason: t("offline")}};
    }
    if (r.status !== 503) break;
    const wait = Math.min(3, +r.headers.get("Retry-After") || 1);
    await new Promise((ok) => setTimeout(ok, 1000 * wait));
  }
  const json = (r.headers.get("Content-Type") || "").startsWith("application/json");
  const d = await (json ? r.json() : r.text()).catch(() => null);
  // 401 while the UI shows: the session ended (idle, or the device restarted)
  if (r.status === 401 && !auth) loggedOut($("ui").hidden ? "" : t("expired"));
  return {s: r.status, d, r};
}

// ---- Login and logout ----
async function login(e) {
  e.preventDefault();
  const f = $("login"), out = $("loginmsg");
  // btoa takes bytes as a binary string: the password may hold any character.
  const bytes = new TextEncoder().encode("user:" + f.pw.value);
  const r = await api("POST", "/api/v1/session", null,
    "Basic " + btoa(String.fromCharCode(...bytes)));
  if (r.s === 200) {
    f.pw.value = "";
    msg(out);
    return start();
  }
  if (r.s === 401) msg(out, t("badpw"), "bad");
  else if (r.s === 429) msg(out, t("locked", dur(+r.r.headers.get("Retry-After") || 0)), "bad");
  else if (r.s === 409) {
    // ours, then the device's own words (English) on a line of their own
    msg(out, t("active", dur(+r.r.headers.get("X-SC-Session-Ends-In") || 0)) + "\n" +
      r.d.reason, "bad");
  } else msg(out, (r.d && r.d.reason) || t("error") + " " + r.s, "bad");
}

function loggedOut(text) {
  stopLive();
  clearTimeout(fwTimer);
  $("ui").hidden = $("logout").hidden = $("live").hidden = true;
  $("login").hidden = false;
  msg($("loginmsg"), text, text ? "bad" : "");
  $("login").pw.focus();
}

async function logout() {
  await api("DELETE", "/api/v1/session");
  loggedOut();
}

// ---- Live values over the event stream ----
let es = null, lastStatus = null, statusAt = 0, readingAt = 0, cfg = null;
const points = []; // [browser ms, net W] of the last 10 minutes
const SPAN = 600000; // the chart's 10 minutes

function startLive() {
  stopLive();
  es = new EventSource("/api/v1/events");
  es.addEventListener("reading", (e) => reading(JSON.parse(e.data)));
  es.addEventListener("status", (e) => status(JSON.parse(e.data)));
  es.onopen = () => { $("live").className = "dot ok"; };
  // Reconnected here, not by the browser: a stream request cannot carry X-SC-UI, so its
  // 401 (session gone, device restarted) could bring up the browser's login dialog. A 503
  // (the device still holds the stream of a page just left) passes within a second or two.
  es.onerror = () => {
    stopLive();
    $("live").className = "dot bad";
    setTimeout(recheck, 1000);
  };
}

function stopLive() {
  if (es) es.close();
  es = null;
  $("live").className = "dot";
}

async function recheck() {
  if ($("ui").hidden || restarting) return;
  const r = await api("GET", "/api/v1/status");
  if (r.s === 200) {
    status(r.d);
    startLive();
  } else if (r.s !== 401) setTimeout(recheck, 5000);
}

const PH = [["power", "power_l%_w", "W"], ["current", "current_l%_a", "A"],
  ["voltage", "voltage_l%_v", "V"]];

function buildPhases() {
  $("phases").replaceChildren(h("tr", {}, h("th"), ...[1, 2, 3].map((i) => h("th", {}, "L" + i))),
    ...PH.map(([k, key, u]) => h("tr", {}, h("th", {}, t(k) + " (" + u + ")"),
      ...[1, 2, 3].map((i) => h("td", {id: key.replace("%", i)}, "–")))));
}

function reading(r) {
  readingAt = Date.now();
  $("pw").textContent = fmt(r.power_w);
  for (const [, key] of PH) {
    for (const i of [1, 2, 3]) $(key.replace("%", i)).textContent = fmt(r[key.replace("%", i)]);
  }
  const mb = (v, ts) => v === null ? "–" : fmt(v, "m³") + (ts ? " (" + when(ts) + ")" : "");
  rows($("energy"), [
    ["imp", fmt(r.power_import_w, "W")], ["exp", fmt(r.power_export_w, "W")],
    ["eImp", fmt(r.energy_import_kwh, "kWh") + tariffs(r.energy_import_t1_kwh,
      r.energy_import_t2_kwh)],
    ["eExp", fmt(r.energy_export_kwh, "kWh") + tariffs(r.energy_export_t1_kwh,
      r.energy_export_t2_kwh)],
    ["tariff", fmt(r.tariff)], ["gas", mb(r.gas_m3, r.gas_ts)],
    ["water", mb(r.water_m3, r.water_ts)], ["meterTime", when(r.ts)],
  ]);
  if (r.power_w !== null) {
    points.push([Date.now(), r.power_w]);
    chart();
  }
}

function tariffs(t1, t2) {
  return t1 === null && t2 === null ? "" : " (T1 " + fmt(t1) + ", T2 " + fmt(t2) + ")";
}

function when(ts) {
  return ts ? new Date(ts * 1000).toLocaleString(lang) : "–";
}

// Net power over the last 10 minutes as an SVG polyline; the scale always holds 0.
function chart() {
  const now = Date.now();
  while (points.length && points[0][0] < now - SPAN) points.shift();
  // Until 10 minutes have been seen the time axis spans what there is (at least 1 min).
  const span = Math.min(SPAN, Math.max(60000, now - (points.length ? points[0][0] : now)));
  const ws = points.map((p) => p[1]);
  let lo = Math.min(0, ...ws), hi = Math.max(0, ...ws);
  if (hi - lo < 100) hi = lo + 100;
  const y = (w) => (160 - (w - lo) / (hi - lo) * 150 - 5).toFixed(1);
  $("line").setAttribute("points", points.map(([ms, w]) =>
    ((ms - now + span) / span * 600).toFixed(1) + "," + y(w)).join(" "));
  $("cspan").textContent = "−" + Math.round(span / 60000) + " min";
  $("zero").setAttribute("y1", y(0));
  $("zero").setAttribute("y2", y(0));
  $("cmax").textContent = fmt(hi, "W");
  $("cmin").textContent = fmt(lo, "W");
}

// Four indicators: true ok, false bad, null unknown.
function indicators(ind) {
  $("ind").replaceChildren(...["link", "network", "internet", "mqtt"].map((k) => {
    const v = ind ? ind[k] : null;
    return h("li", {className: v === true ? "ok" : v === false ? "bad" : "unk",
      title: t(v === true ? "yes" : v === false ? "no" : "unknown")},
    k === "mqtt" ? "MQTT" : t(k));
  }));
}

function status(s) {
  lastStatus = s;
  statusAt = Date.now();
  const d = s.device || {}, m = s.meter || {}, n = s.network || {}, q = s.mqtt || {};
  rows($("sys"), [["serial", d.serial], ["version", d.version], ["board", d.board],
    ["uptime", dur(d.uptime_s || 0)], ["reset", d.reset_cause], ["time", when(d.time)]]);
  ages();
  // MQTT switched off is neither good nor bad: shown as unknown
  indicators(Object.assign({}, n.indicators, q.enabled === false ? {mqtt: null} : {}));
  netRows();
  led(s.led);
  rows($("mqtt"), [["state", fmt(q.state)], ["broker", fmt(q.broker)],
    ["lastError", fmt(q.last_error)], ["sent", fmt(q.sent)], ["connects", fmt(q.connects)],
    ["failures", fmt(q.failures)],
    ["retry", q.retry_in_ms === null || q.retry_in_ms === undefined ? "–" :
      dur(q.retry_in_ms / 1000)]]);
  const w = (s.config_errors || []).concat(s.web && s.web.error ? [s.web.error] : []);
  $("warn").hidden = !w.length;
  $("warn").textContent = w.length ? t("cfgErr", w.join("; ")) : "";
  $("f-rs485").hidden = !s.rs485;
  const mb = s.modbus || {};
  rows($("mbstat"), [["clients", fmt(mb.clients)], ["requests", fmt(mb.requests)],
    ["exceptions", fmt(mb.exceptions)], ["MeterType", fmt(mb.template)],
    ["unmapped", unmapped(mb)]]);
  // The request ring is asked for only while it shows, and only when there are new ones.
  if (!$("maint").hidden && mb.requests !== ringSeen) loadRing();
}

// "3: 0x8016 ×2, 0x0034 ×1": how many reads hit no register of the template, and where.
function unmapped(mb) {
  const top = (mb.unmapped_top || []).map((e) =>
    "0x" + e.address.toString(16).toUpperCase().padStart(4, "0") + " ×" + e.reads);
  return fmt(mb.unmapped_reads) + (top.length ? ": " + top.join(", ") : "");
}

let ringSeen = -1;
async function loadRing() {
  ringSeen = (lastStatus && lastStatus.modbus || {}).requests;
  const r = await api("GET", "/api/v1/modbus/requests");
  if (r.s === 200) ring(r.d);
}

// The device's LED (docs/network.md): its colour now and the pattern's name.
const LED = {red: "#e53935", green: "#43a047", blue: "#1e88e5", orange: "#fb8c00",
  white: "#ffffff", magenta: "#d81b60", off: "transparent"};

function led(l) {
  $("leddot").style.background = l && LED[l.colour] || "";
  $("ledname").textContent = l ? "LED: " + l.showing : "";
}

function netRows() {
  const n = (lastStatus || {}).network || {}, w = cfg && cfg.WiFi.SSID;
  rows($("net"), [["iface", fmt(n.interface)], ["address", fmt(n.address)],
    ["method", fmt(n.method)], ...w ? [["SSID", w]] : []]);
}

// The meter part, with the telegram's age counted on between updates.
function ages() {
  const m = (lastStatus || {}).meter;
  if (!m) return;
  const ms = readingAt > statusAt ? Date.now() - readingAt : m.age_ms + Date.now() - statusAt;
  const age = m.valid ? t("ago", dur(ms / 1000)) +
    (m.fresh ? "" : " (" + t("stale") + ")") : "–";
  rows($("meter"), [["protocol", fmt(m.protocol)], ["age", age], ["valid", fmt(m.valid)],
    ["rejected", fmt(m.rejected)], ["dropped", fmt(m.dropped)], ["noise", fmt(m.noise)],
    ["line", fmt(m.line)], ["lastError", fmt(m.last_error)]]);
}

function ring(list) {
  const head = h("tr", {}, ...["client", "fn", "unit", "address", "count", "result"]
    .map((k) => h("th", {}, t(k))));
  $("ring").replaceChildren(head, ...(list.length ? list.slice().reverse().map((e) =>
    h("tr", {}, ...[e.client, e.function, e.unit, e.address, e.count, e.result]
      .map((v) => h("td", {}, String(v))))) :
    [h("tr", {}, h("td", {colSpan: 6}, t("none")))]));
}

// ---- Settings: one form per section, built from the config paths it edits ----
const IP = ["IpAddress", "Netmask", "Gateway", "DNS"];
const MODE = ["DHCP", "Static"];
const ip = (s) => [[s + ".IpMode", MODE], ...IP.map((k) => [s + ".StaticIPv4." + k, "ip"])];
const FORMS = {
  net: [["DefaultNetIf", ["Ethernet", "WiFi"]], ["#Ethernet"], ...ip("Ethernet"), ["#WiFi"],
    ["WiFi.SSID"], ["WiFi.Password", "pw"], ...ip("WiFi")],
  mqtt: [["MQTT.Enabled", "chk"], ["MQTT.Broker"], ["MQTT.Username"],
    ["MQTT.Password", "pw"], ["MQTT.Site"], ["MQTT.HomeAssistant", "chk"]],
  modbus: [["MeterType", ["PhoenixContact-EMPro", "Eastron-SDM630", "Inepro-PRO380",
    "CarloGavazzi-EM24"]],
    ["Modbus.StaleAfter", "num"], ["Modbus.IdleTimeout", "num"]],
  // shown on boards with the RS485 slave (P1MB / A1MB) only: status rs485 is not null
  rs485: [["RS485.Address", "num"],
    ["RS485.Baud", [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200]],
    ["RS485.Parity", ["N", "E", "O"], ["8N1", "8E1", "8O1"]]],
};
const get = (o, path) => path.split(".").reduce((x, k) => x && x[k], o);

function buildForm(name) {
  const f = $("f-" + name);
  let box = f;
  for (const [path, kind, labels] of FORMS[name]) {
    if (path[0] === "#") { // a sub-section (Ethernet, WiFi)
      box = f.appendChild(h("fieldset", {}, h("legend", {}, path.slice(1))));
      continue;
    }
    const key = path.split(".").pop();
    const input = Array.isArray(kind) ?
      h("select", {}, ...kind.map((v, i) => h("option", {value: v}, labels ? labels[i] : v))) :
      h("input", {type: {chk: "checkbox", num: "number", pw: "password"}[kind] || "text",
        autocomplete: "off", spellcheck: false});
    input.name = path;
    const label = h("label", {className: kind === "chk" ? "chk" : ""},
      h("span", {}, t(key)), input);
    if (kind === "pw") {
      const b = h("button", {type: "button", className: "ghost"}, t("show"));
      b.onclick = () => {
        const show = input.type === "password";
        input.type = show ? "text" : "password";
        b.textContent = t(show ? "hide" : "show");
      };
      label.append(b);
    }
    if (kind === "ip") label.dataset.ip = path.split(".")[0];
    if (kind === "ip" && key === "IpAddress") input.placeholder = "192.168.1.20";
    if (key === "Broker") input.placeholder = "mqtts://broker.lan:8883";
    label.append(h("small", {className: "err"}));
    box.append(label);
    if (key === "IpMode") input.onchange = () => staticShown(f);
  }
  f.append(h("p", {className: "row"}, h("button", {}, t("save")),
    h("span", {className: "msg", role: "status"})));
  f.onsubmit = (e) => {
    e.preventDefault();
    save(name);
  };
}

// The static IPv4 fields only while that interface's IpMode is Static.
function staticShown(f) {
  for (const l of f.querySelectorAll("[data-ip]")) {
    l.hidden = f.elements[l.dataset.ip + ".IpMode"].value !== "Static";
  }
}

// Fills the forms (only: that one) from a configuration; the others keep their edits.
function fill(c, only) {
  cfg = c;
  netRows();
  for (const name of only ? [only] : Object.keys(FORMS)) {
    const f = $("f-" + name);
    for (const [path, kind] of FORMS[name]) {
      const el = f.elements[path], v = get(c, path);
      if (!el || v === undefined) continue;
      if (kind === "chk") el.checked = v;
      else el.value = v;
    }
    staticShown(f);
  }
}

function collect(name) {
  const out = {}, f = $("f-" + name);
  for (const [path, kind] of FORMS[name]) {
    const el = f.elements[path];
    if (!el) continue;
    // Numbers go as numbers when they are; anything else as typed, for the device to judge.
    const v = kind === "chk" ? el.checked : Array.isArray(kind) && typeof kind[0] === "number" ||
      kind === "num" && /^\d+$/.test(el.value.trim()) ? +el.value : el.value;
    const keys = path.split("."), last = keys.pop();
    keys.reduce((o, k) => (o[k] = o[k] || {}), out)[last] = v;
  }
  return out;
}

async function save(name) {
  const f = $("f-" + name), out = f.querySelector(".row .msg");
  for (const e of f.querySelectorAll(".err")) e.textContent = "";
  for (const e of f.querySelectorAll(".invalid")) e.classList.remove("invalid");
  msg(out, t("saving"));
  const r = await api("PATCH", "/api/v1/config", collect(name));
  if (r.s === 200) {
    fill(r.d.config, name);
    const a = r.d.applied, b = r.d.after_reboot, text = [];
    if (a.length) text.push(t("appliedNow", a.join(", ")));
    if (b.length) text.push(t("afterReboot", b.join(", ")));
    msg(out, t("saved") + " " + (text.join(" ") || t("nochange")), "good");
    return;
  }
  const d = r.d || {}, el = d.field && f.elements[d.field];
  if (el && el.closest) { // the reason beside the field it is about
    el.classList.add("invalid");
    el.closest("label").querySelector(".err").textContent = d.reason;
    el.closest("label").hidden = false;
    el.focus();
    msg(out, t("error") + ": " + d.field, "bad");
  } else {
    msg(out, (d.field ? d.field + ": " : "") + (d.reason || t("error") + " " + r.s), "bad");
  }
}

// ---- Maintenance ----
async function reset(mode) {
  $("confirm").hidden = true;
  const out = $("resetmsg"), r = await api("POST", "/api/v1/reset", {mode});
  if (r.s !== 202) return msg(out, (r.d && r.d.reason) || t("error") + " " + r.s, "bad");
  msg(out, t("restarting"));
  stopLive();
  // Wait until it answers again; its sessions are gone with the restart.
  setTimeout(async function wait() {
    const up = await fetch("/api", {cache: "no-store"}).then((x) => x.ok, () => false);
    if (!up) return setTimeout(wait, 2000);
    msg(out);
    loggedOut(t("back"));
  }, 4000);
}

// ---- Firmware: what runs, the update's state, and an upload (docs/update.md) ----
let fwTimer = 0, restarting = false;
const MOVING = ["receiving", "verifying", "rebooting", "trial"]; // followed every 2 s

// The update's state in words: "on trial (9.9.9)", "refused (9.9.9): signature: …".
function updateState(u) {
  if (!u || !u.state) return "–";
  const word = L.en["u:" + u.state] ? t("u:" + u.state) : String(u.state);
  const pct = u.state === "receiving" && u.total > 0 ?
    " " + Math.floor(100 * u.received / u.total) + " %" : "";
  return word + (u.version ? " (" + u.version + ")" : "") + pct + (u.why ? ": " + u.why : "");
}

async function firmware() {
  clearTimeout(fwTimer);
  const r = await api("GET", "/api/v1/firmware");
  if (r.s !== 200 || !r.d) return;
  const d = r.d, u = d.update || {};
  rows($("fw"), [["version", fmt(d.version)], ["secure", fmt(d.secure_version)],
    ["build", fmt(d.build)], ["board", fmt(d.board)],
    ["slot", d.slot === null || d.slot === undefined ? t("noSlot") : "ota_" + d.slot],
    ...d.previous ? [["previous", fmt(d.previous)]] : [], ["update", updateState(u)]]);
  // an update under way (from here or over MQTT) or on trial: followed while it shows
  if (MOVING.includes(u.state) && !restarting && !$("maint").hidden && !$("ui").hidden) {
    fwTimer = setTimeout(firmware, 2000);
  }
}

function progress(f) {
  const pct = Math.floor(100 * f);
  $("fwprog").value = pct;
  $("fwpct").textContent = pct + " %";
}

// The image as the request's body, by XMLHttpRequest for its upload progress; the device
// answers once it has verified the image (200), or refused it (400, 409: its reason).
function sendImage(e) {
  e.preventDefault();
  const file = $("upload").image.files[0], out = $("fwmsg"), x = new XMLHttpRequest();
  if (!file || restarting) return;
  $("install").disabled = true;
  $("fwbar").hidden = false;
  progress(0);
  msg(out, t("sending"));
  x.upload.onprogress = (p) => p.lengthComputable && progress(p.loaded / p.total);
  x.upload.onload = () => {
    progress(1);
    msg(out, t("checking"));
  };
  x.onloadend = () => {
    let d = null;
    try {
      d = JSON.parse(x.responseText);
    } catch (err) { /* not JSON: no answer, or not the API's */ }
    if (x.status === 200 && d) return installed(String(d.version));
    $("install").disabled = false;
    $("fwbar").hidden = true;
    if (x.status === 401) return loggedOut(t("expired"));
    const why = (d && d.reason) || t("error") + " " + x.status +
      (d === null && x.responseText ? ": " + x.responseText.slice(0, 200) : "");
    msg(out, !x.status ? t("broke", t("offline")) :
      x.status === 400 || x.status === 409 ? t("refusedBy", why) : why, "bad");
    firmware(); // the device's own record of it
  };
  x.open("POST", "/api/v1/firmware");
  x.setRequestHeader("X-SC-UI", "1");
  x.setRequestHeader("Content-Type", "application/octet-stream");
  x.send(file);
}

// Verified: the device restarts into it. GET /api (public) every 2 s until it is back: once
// seen down, or answering with the new version (or after a minute, its restart missed).
// Its session went with the restart: the new version is shown once logged in again.
function installed(version) {
  restarting = true;
  clearTimeout(fwTimer);
  stopLive();
  msg($("fwmsg"), t("verified", version));
  const since = Date.now();
  let down = false;
  setTimeout(async function wait() {
    const o = {cache: "no-store"};
    if (AbortSignal.timeout) o.signal = AbortSignal.timeout(5000);
    const a = await fetch("/api", o).then((x) => x.ok ? x.json() : false, () => null)
      .catch(() => false);
    down = down || a === null;
    if (!a || !(down || a.firmware === version || Date.now() - since > 60000)) {
      return setTimeout(wait, 2000);
    }
    restarting = false;
    $("install").disabled = false;
    $("fwbar").hidden = true;
    $("upload").reset();
    msg($("fwmsg"), t("running", a.firmware));
    loggedOut(t("upBack", a.firmware));
  }, 2000);
}

async function raw() {
  const out = $("rawmsg");
  $("readraw").disabled = true;
  msg(out, t("waiting"));
  const r = await api("GET", "/api/v1/meter/telegram");
  $("readraw").disabled = false;
  if (r.s !== 200) return msg(out, (r.d && r.d.reason) || t("error") + " " + r.s, "bad");
  msg(out);
  $("rawout").textContent = r.d;
  // DSMR sends its text messages hex-encoded: show them decoded, as text.
  const texts = [...r.d.matchAll(/0-0:96\.13\.0\(([0-9A-Fa-f]+)\)/g)].map((m) =>
    m[1].match(/../g).map((x) => String.fromCharCode(parseInt(x, 16))).join(""));
  rows($("rawtext"), texts.map((x) => ["textMsg", x]));
}

// ---- Start ----
function tab(name) {
  for (const b of document.querySelectorAll("nav button")) {
    b.classList.toggle("on", b.dataset.tab === name);
    $(b.dataset.tab).hidden = b.dataset.tab !== name;
  }
  // Fresh counters, then the ring if it changed: one request at a time (3 connections).
  if (name === "maint") {
    firmware().then(() => api("GET", "/api/v1/status"))
      .then((r) => r.s === 200 && status(r.d));
  }
}

// Logged in when the cookie (or a still-open session) gets us the status.
async function start() {
  const r = await api("GET", "/api/v1/status");
  if (r.s !== 200) {
    if (r.s !== 401) loggedOut(r.d && r.d.reason);
    return;
  }
  $("login").hidden = true;
  $("ui").hidden = $("logout").hidden = $("live").hidden = false;
  status(r.d);
  startLive();
  const c = await api("GET", "/api/v1/config");
  if (c.s === 200) fill(c.d);
  if (!$("maint").hidden) firmware();
}

function init() {
  document.documentElement.lang = lang;
  for (const e of document.querySelectorAll("[data-t]")) e.textContent = t(e.dataset.t);
  buildPhases();
  Object.keys(FORMS).forEach(buildForm);
  indicators(null);
  ring([]);
  $("login").onsubmit = login;
  $("logout").onclick = logout;
  for (const b of document.querySelectorAll("nav button")) b.onclick = () => tab(b.dataset.tab);
  for (const b of document.querySelectorAll("[data-mode]")) b.onclick = () => reset(b.dataset.mode);
  $("factory").onclick = () => { $("confirm").hidden = false; };
  $("cancel").onclick = () => { $("confirm").hidden = true; };
  $("readraw").onclick = raw;
  $("upload").onsubmit = sendImage;
  tab("status");
  setInterval(() => {
    if (lastStatus) ages();
    if (points.length) chart();
  }, 1000);
  start();
}

init();
