// The Baton demo's Slack-like client: polls the emulator's state, draws Block Kit, and sends
// clicks, modal submissions and slash commands to the server, which signs them as Slack would.
// All text from messages goes in through text nodes: nothing a message says becomes HTML.
"use strict";

const POLL_MS = 1000;
const FOLLOW_MS = 10000;  // after typing a command, the next new message is scrolled to
const ui = {
  workspace: null,
  user: null,          // user id
  view: "channel",     // "channel" | "dm" | "home"
  channel: null,       // channel id when view is "channel"
  thread: null,        // ts of the open thread
  lastState: "",
  modalKey: "",
  dmSeen: {},
  pollTimer: null,
  generation: 0,       // bumped on navigation, so a late answer for an old screen is dropped
  clock: { now: Date.now() / 1000, speed: 1, at: performance.now() },  // the server's, see demoNow
  followUntil: 0,      // performance.now() until which a new message is scrolled into view
  emoji: new Map(),    // Slack name → emoji, for those with a bundled image
  emojiImages: new Set(),
};

// ------------------------------------------------------------------ helpers

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user: ui.user, ...body }),
  });
  const answer = await response.json().catch(() => ({}));
  return { ok: response.ok && answer.ok !== false, ...answer };
}

// The time every message is stamped with (a demo may run it faster than the wall clock), in ms.
function demoNow() {
  return ui.clock.now * 1000 + (performance.now() - ui.clock.at) * ui.clock.speed;
}

function decodeEntities(text) {
  // Slack escapes exactly these three; decode &amp; last so "&amp;lt;" stays "&lt;".
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function channelName(id) {
  const channel = ui.workspace.channels.find((c) => c.id === id);
  return channel ? channel.name : id;
}

function me() {
  return ui.workspace.users.find((u) => u.id === ui.user);
}

function currentChannel() {
  return ui.view === "channel" ? ui.channel : me().dm;
}

// ------------------------------------------------------------------ mrkdwn

// One of: <special>, *bold*, _italic_, ~strike~, `code`; formatting needs a non-word edge.
const TOKEN = new RegExp(
  [
    "<([^<>\\n]+)>",
    "(^|[^\\w*])\\*([^*\\n]+?)\\*(?=$|[^\\w*])",
    "(^|[^\\w_])_([^_\\n]+?)_(?=$|[^\\w_])",
    "(^|[^\\w~])~([^~\\n]+?)~(?=$|[^\\w~])",
    "`([^`\\n]+)`",
  ].join("|"),
);

function appendPlain(parent, text) {
  const lines = decodeEntities(text).split("\n");
  lines.forEach((line, index) => {
    if (index > 0) parent.append(el("br"));
    if (line) appendText(parent, line);
  });
}

// ------------------------------------------------------------------ emoji

// A `:name:` or an emoji character (with its variation selector and ZWJ sequence).
const EMOJI = /:([a-z0-9_+-]+):|(\p{Extended_Pictographic}(?:\uFE0F?\u200D\p{Extended_Pictographic})*\uFE0F?)/gu;

function emojiCode(emoji) {
  return [...emoji].filter((c) => c !== "\uFE0F").map((c) => c.codePointAt(0).toString(16)).join("-");
}

// Text with its emoji drawn from the bundled images, so they show without an emoji font; an
// emoji without an image is left to the system's fonts, an unknown `:name:` stays as typed.
function appendText(parent, text) {
  let last = 0;
  for (const match of text.matchAll(EMOJI)) {
    const [whole, name, character] = match;
    const emoji = character ?? ui.emoji.get(name);
    if (!emoji) continue;
    parent.append(text.slice(last, match.index), emojiNode(emoji, name ? whole : emoji));
    last = match.index + whole.length;
  }
  parent.append(text.slice(last));
}

function emojiNode(emoji, title) {
  const code = emojiCode(emoji);
  if (!ui.emojiImages.has(code)) return el("span", { class: "emoji" }, emoji);
  return el("img", { class: "emoji", src: `/static/emoji/${code}.svg`, alt: emoji, title, draggable: "false" });
}

function emojiText(text) {
  const node = el("span");
  appendText(node, text);
  return node;
}

function plainText(text) {
  return emojiText(decodeEntities(text || ""));
}

function renderInline(parent, text) {
  let rest = text;
  while (rest) {
    const match = TOKEN.exec(rest);
    if (!match) {
      appendPlain(parent, rest);
      return;
    }
    const [whole, special, boldPre, bold, italicPre, italic, strikePre, strike, code] = match;
    const prefix = boldPre ?? italicPre ?? strikePre ?? "";
    appendPlain(parent, rest.slice(0, match.index) + prefix);
    if (special !== undefined) parent.append(renderSpecial(special));
    else if (bold !== undefined) renderInline(parent.appendChild(el("b")), bold);
    else if (italic !== undefined) renderInline(parent.appendChild(el("i")), italic);
    else if (strike !== undefined) renderInline(parent.appendChild(el("s")), strike);
    else parent.append(el("code", {}, decodeEntities(code)));
    rest = rest.slice(match.index + whole.length);
  }
}

function renderSpecial(inner) {
  const bar = inner.indexOf("|");
  const target = bar < 0 ? inner : inner.slice(0, bar);
  const label = bar < 0 ? null : decodeEntities(inner.slice(bar + 1));
  if (target.startsWith("@")) {
    const id = target.slice(1);
    return el("span", { class: "mention", "data-user": id }, "@" + (ui.workspace.names[id] || label || id));
  }
  if (target.startsWith("#")) {
    return el("span", { class: "mention" }, "#" + (label || channelName(target.slice(1))));
  }
  if (target.startsWith("!date^")) return renderDate(target, label);
  if (target.startsWith("!subteam^")) return el("span", { class: "mention" }, label || "@group");
  if (target.startsWith("!")) {
    return el("span", { class: "mention broadcast" }, "@" + (label || target.slice(1).split("^")[0]));
  }
  const url = decodeEntities(target);
  if (/^(https?:|mailto:)/i.test(url)) {
    return el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, label || url);
  }
  return document.createTextNode(label || url);
}

function renderDate(spec, fallback) {
  const [, unix, format] = spec.split("^");
  const when = new Date(Number(unix) * 1000);
  if (!format || Number.isNaN(when.getTime())) return document.createTextNode(fallback || spec);
  const text = formatDate(when, decodeEntities(format));
  return el("span", { class: "date", title: when.toString() }, text);
}

function formatDate(when, format) {
  const day = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const offset = Math.round((day(when) - day(new Date(demoNow()))) / 86400000);
  const relative = { "-1": "yesterday", 0: "today", 1: "tomorrow" }[offset];
  const local = (options) => when.toLocaleDateString(undefined, options);
  const date = local({ month: "long", day: "numeric", year: "numeric" });
  const dateShort = local({ month: "short", day: "numeric", year: "numeric" });
  const dateLong = local({ weekday: "long", month: "long", day: "numeric", year: "numeric" });
  const pad = (n) => String(n).padStart(2, "0");
  const values = {
    date_num: `${when.getFullYear()}-${pad(when.getMonth() + 1)}-${pad(when.getDate())}`,
    date, date_short: dateShort, date_long: dateLong,
    date_pretty: relative || date,
    date_short_pretty: relative || dateShort,
    date_long_pretty: relative || dateLong,
    time: when.toLocaleTimeString(undefined, { hour: "numeric", minute: "2-digit" }),
    time_secs: when.toLocaleTimeString(undefined, { hour: "numeric", minute: "2-digit", second: "2-digit" }),
    ago: ago(when),
  };
  return format.replace(/\{(\w+)\}/g, (token, name) => values[name] ?? token);
}

function ago(when) {
  const seconds = Math.round((when.getTime() - demoNow()) / 1000);
  const steps = [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
  const [unit, size] = steps.find(([, s]) => Math.abs(seconds) >= s) || steps[3];
  return new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }).format(Math.round(seconds / size), unit);
}

function mrkdwn(text) {
  const node = el("div", { class: "mrkdwn" });
  renderInline(node, text || "");
  return node;
}

function textObject(object) {
  if (!object) return null;
  if (object.type === "mrkdwn") return mrkdwn(object.text);
  return el("div", { class: "plain" }, plainText(object.text));
}

// ------------------------------------------------------------------ Block Kit

// `where` says where a button click goes: {channel, ts} for a message, {view_id} for a view.
function renderBlocks(blocks, where) {
  const box = el("div", { class: "blocks" });
  for (const block of blocks) box.append(renderBlock(block, where));
  return box;
}

function renderBlock(block, where) {
  switch (block.type) {
    case "header":
      return el("div", { class: "block-header" }, plainText(block.text?.text));
    case "section": {
      const main = el("div", { class: "section-main" }, textObject(block.text));
      if (block.fields?.length) main.append(el("div", { class: "fields" }, block.fields.map(textObject)));
      const accessory = block.accessory ? renderElement(block.accessory, where) : null;
      return el("div", { class: "block-section" }, main, accessory);
    }
    case "context":
      return el("div", { class: "block-context" }, (block.elements || []).map((item) =>
        item.type === "image" ? image(item.image_url, item.alt_text) : textObject(item)));
    case "divider":
      return el("hr", { class: "block-divider" });
    case "actions": {
      const row = el("div", { class: "block-actions", "data-block-id": block.block_id });
      for (const element of block.elements || []) row.append(renderElement(element, where));
      return row;
    }
    case "image":
      return el("div", { class: "block-image" }, block.title ? textObject(block.title) : null,
        image(block.image_url, block.alt_text));
    case "markdown":
      return mrkdwn(block.text);
    case "rich_text":
      return el("div", { class: "mrkdwn" }, richText(block.elements || []));
    default:
      return el("div", { class: "block-unsupported" }, `[${block.type} block]`);
  }
}

function image(url, alt) {
  return /^https?:/i.test(url || "") ? el("img", { src: url, alt: alt || "" }) : el("span", {}, alt || "");
}

function richText(elements) {
  return elements.map((item) => {
    if (item.elements) return el("div", {}, richText(item.elements));
    if (item.type === "text") return emojiText(item.text);
    if (item.type === "link") return renderSpecial(`${item.url}|${item.text || item.url}`);
    if (item.type === "user") return renderSpecial(`@${item.user_id}`);
    if (item.type === "emoji") {
      const emoji = item.unicode
        ? String.fromCodePoint(...item.unicode.split("-").map((hex) => parseInt(hex, 16)))
        : ui.emoji.get(item.name);
      return emoji ? emojiNode(emoji, `:${item.name}:`) : document.createTextNode(`:${item.name}:`);
    }
    return document.createTextNode("");
  });
}

function renderElement(element, where) {
  if (element.type === "image") return image(element.image_url, element.alt_text);
  if (element.type === "users_select" && where.ts) return userPicker(element, where);
  if (element.type !== "button") {
    return el("span", { class: "block-unsupported" }, `[${element.type}]`);
  }
  const style = element.style ? ` ${element.style}` : "";
  const button = el("button", {
    type: "button",
    class: `btn${style}`,
    "data-action-id": element.action_id,
    "data-value": element.value,
  }, plainText(element.text?.text));
  button.addEventListener("click", () => clickButton(button, element, where));
  return button;
}

async function clickButton(button, element, where) {
  if (element.url && /^https?:/i.test(element.url)) window.open(element.url, "_blank", "noopener");
  await interact(button, "/api/click", { ...where, action_id: element.action_id, value: element.value });
}

// Send a button's or picker's action; `control` waits disabled until the app has answered.
async function interact(control, path, body) {
  control.disabled = true;
  control.parentElement.querySelector(".action-failed")?.remove();
  try {
    const answer = await post(path, body);
    if (!answer.ok) {
      // Slack shows a warning next to the control when the app did not acknowledge in time.
      control.after(el("span", { class: "action-failed", title: answer.error || "" }, "⚠ The app did not respond"));
    }
  } finally {
    control.disabled = false;
    pollSoon();
  }
}

// A user picker in a message: Slack lists the workspace's people and sends the pick at once.
function userPicker(element, where) {
  const placeholder = element.placeholder ? decodeEntities(element.placeholder.text) : "Select a user";
  const select = el("select", {
    class: "picker",
    "data-action-id": element.action_id,
    "aria-label": placeholder,
  }, el("option", { value: "" }, placeholder));
  for (const person of ui.workspace.users) {
    select.append(el("option", { value: person.id }, `${person.real_name} (@${person.name})`));
  }
  select.value = element.initial_user || "";
  select.addEventListener("change", () => {
    if (select.value) interact(select, "/api/pick", { ...where, action_id: element.action_id, picked: select.value });
  });
  return select;
}

// ------------------------------------------------------------------ messages

function renderMessage(message, channel, inThread) {
  const slackbot = message.author === "Slackbot";
  const node = el("div", {
    class: `message${message.ephemeral ? " ephemeral" : ""}`,
    "data-ts": message.ts,
  });
  node.append(el("div", { class: `avatar${slackbot ? " slackbot" : ""}`, "aria-hidden": "true" },
    (message.author || "?").charAt(0).toUpperCase()));
  const body = el("div", { class: "message-body" });
  if (message.ephemeral) body.append(el("div", { class: "only-you" }, "Only visible to you"));
  const time = new Date(Number(message.ts) * 1000);
  body.append(el("div", { class: "meta" },
    el("span", { class: "author" }, message.author),
    message.is_bot && !slackbot ? el("span", { class: "app-badge" }, "APP") : null,
    el("span", { class: "time", title: time.toString() },
      time.toLocaleTimeString(undefined, { hour: "numeric", minute: "2-digit" }))));
  const where = { channel, ts: message.ts };
  body.append(message.blocks?.length ? renderBlocks(message.blocks, where) : mrkdwn(message.text));
  for (const file of message.files || []) body.append(renderFile(file));
  if (message.edited) body.append(el("span", { class: "edited" }, "(edited)"));
  if (message.reply_count && !inThread) {
    const count = message.reply_count;
    body.append(el("div", {}, el("button", {
      type: "button", class: "replies",
      onclick: () => openThread(message.ts),
    }, `${count} ${count === 1 ? "reply" : "replies"}`)));
  }
  node.append(body);
  return node;
}

function renderFile(file) {
  const kind = (file.name.split(".").pop() || "file").toUpperCase();
  const box = el("div", { class: "file", "data-file": file.name },
    el("span", { class: "file-icon", "aria-hidden": "true" }, kind.slice(0, 4)),
    el("div", { class: "file-body" },
      el("a", { class: "file-title", href: file.url, download: file.name }, file.title || file.name),
      el("div", { class: "file-meta" }, `${file.name} · ${formatSize(file.size)}`)),
    el("a", { class: "btn file-download", href: file.url, download: file.name }, "Download"));
  if (!file.image) return box;
  // An image shows itself above its file, as Slack previews one (a chart Baton drew).
  return el("div", { class: "file-with-preview" },
    el("img", { class: "file-preview", src: file.url, alt: file.title || file.name }), box);
}

function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / 1048576).toFixed(1)} MB`;
}

function openThread(ts) {
  ui.thread = ts;
  ui.generation += 1;
  document.getElementById("thread-feed").dataset.drawn = "";
  pollSoon();
}

function atBottom(container) {
  return container.scrollHeight - container.scrollTop - container.clientHeight < 40;
}

// Redraw a feed. It follows new messages while it shows the newest, and after the user typed a
// command (its answer is scrolled to); scrolled up, it stays put and offers a jump to them.
function renderFeed(container, nodes, emptyText) {
  const following = atBottom(container);
  const previous = container.scrollTop;
  const first = !container.dataset.drawn;
  const lastBefore = container.dataset.lastTs || "";
  container.replaceChildren(...(nodes.length ? nodes : [el("p", { class: "empty" }, emptyText)]));
  container.dataset.drawn = "1";
  const last = nodes.length ? nodes[nodes.length - 1].dataset?.ts || "" : "";
  container.dataset.lastTs = last;
  const added = !first && last !== lastBefore;
  const asked = added && performance.now() < ui.followUntil;
  if (asked) ui.followUntil = 0;
  container.scrollTop = first || following || asked ? container.scrollHeight : previous;
  if (container.id === "feed") {
    const jump = document.getElementById("jump-new");
    if (added && !atBottom(container)) jump.hidden = false;
    else if (atBottom(container)) jump.hidden = true;
  }
}

function jumpToNewest() {
  const feed = document.getElementById("feed");
  feed.scrollTop = feed.scrollHeight;
  document.getElementById("jump-new").hidden = true;
}

function render(state) {
  const channel = state.channel;
  const home = ui.view === "home";
  document.getElementById("composer").hidden = home;
  if (home) {
    const view = state.home;
    const nodes = view?.blocks?.length
      ? [el("div", { class: "home" }, renderBlocks(view.blocks, { view_id: view.id }))] : [];
    renderFeed(document.getElementById("feed"), nodes, "Nothing here yet");
  } else {
    const nodes = state.messages.map((message) => renderMessage(message, channel, false));
    const empty = ui.view === "dm" ? "No messages from Baton yet." : "No messages yet.";
    renderFeed(document.getElementById("feed"), nodes, empty);
  }
  renderThread(state.thread, channel);
  if (ui.view === "dm") ui.dmSeen[ui.user] = state.dm_count;
  const unread = state.dm_count - (ui.dmSeen[ui.user] || 0);
  const badge = document.getElementById("dm-badge");
  badge.hidden = unread <= 0;
  badge.textContent = String(unread);
  document.getElementById("nav-dm").classList.toggle("unread", unread > 0);
  renderModal(state.modal);
}

function renderThread(thread, channel) {
  const pane = document.getElementById("thread-pane");
  if (!thread) {
    pane.hidden = true;
    ui.thread = null;
    return;
  }
  pane.hidden = false;
  const [parent, ...replies] = thread;
  const nodes = [renderMessage(parent, channel, true)];
  nodes.push(el("div", { class: "thread-divider" }, `${replies.length} ${replies.length === 1 ? "reply" : "replies"}`));
  for (const reply of replies) nodes.push(renderMessage(reply, channel, true));
  renderFeed(document.getElementById("thread-feed"), nodes, "");
}

// ------------------------------------------------------------------ modals

function renderModal(view) {
  const root = document.getElementById("modal-root");
  if (!view) {
    root.replaceChildren();
    ui.modalKey = "";
    return;
  }
  const key = `${view.id}:${view.hash}`;
  if (key !== ui.modalKey) {
    ui.modalKey = key;
    root.replaceChildren(buildModal(view));
  }
  showModalErrors(view.errors || {});
}

function buildModal(view) {
  const form = el("form", { class: "modal-body", novalidate: true });
  form.append(el("div", { class: "modal-alert", hidden: true }));
  for (const block of view.blocks) {
    form.append(block.type === "input" ? inputField(block) : renderBlock(block, { view_id: view.id }));
  }
  const cancel = el("button", { type: "button", class: "btn", "data-role": "cancel" },
    decodeEntities(view.close?.text || "Cancel"));
  const submit = view.submit ? el("button", { type: "submit", class: "btn primary", "data-role": "submit" },
    decodeEntities(view.submit.text)) : null;
  const close = () => post("/api/close", { view_id: view.id }).finally(pollSoon);
  cancel.addEventListener("click", close);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitModal(view, form, submit);
  });
  if (submit) submit.setAttribute("form", `form-${view.id}`);
  form.id = `form-${view.id}`;
  const dialog = el("div", { class: "modal", role: "dialog", "aria-modal": "true", "aria-labelledby": `title-${view.id}` },
    el("header", {},
      el("h2", { id: `title-${view.id}` }, decodeEntities(view.title?.text || "")),
      el("button", { type: "button", class: "icon-button", "aria-label": "Close", onclick: close }, "×")),
    form,
    el("footer", {}, cancel, submit));
  return el("div", { class: "modal-backdrop", "data-view-id": view.id }, dialog);
}

function inputField(block) {
  const element = block.element || {};
  const id = `input-${block.block_id}`;
  const field = el("div", {
    class: "field",
    "data-block-id": block.block_id,
    "data-action-id": element.action_id,
    "data-type": element.type,
    "data-optional": block.optional ? "1" : "",
  });
  field.append(el("label", { for: id }, decodeEntities(block.label?.text || ""),
    block.optional ? el("span", { class: "optional" }, " (optional)") : null));
  field.append(inputControl(element, id));
  if (block.hint) field.append(el("div", { class: "hint" }, decodeEntities(block.hint.text)));
  field.append(el("div", { class: "field-error", role: "alert" }));
  return field;
}

function inputControl(element, id) {
  const placeholder = element.placeholder ? decodeEntities(element.placeholder.text) : undefined;
  if (["static_select", "radio_buttons"].includes(element.type)) {
    const select = el("select", { id }, el("option", { value: "" }, placeholder || "Choose an option"));
    const options = [...(element.options || []), ...(element.option_groups || []).flatMap((g) => g.options)];
    for (const option of options) {
      select.append(el("option", { value: option.value }, decodeEntities(option.text.text)));
    }
    if (element.initial_option) select.value = element.initial_option.value;
    return select;
  }
  if (element.type === "plain_text_input" && element.multiline) {
    const area = el("textarea", { id, placeholder, maxlength: element.max_length });
    area.value = element.initial_value || "";
    return area;
  }
  const kinds = { datepicker: "date", timepicker: "time", email_text_input: "email",
    number_input: "number", url_text_input: "url" };
  const input = el("input", { id, type: kinds[element.type] || "text", placeholder, maxlength: element.max_length });
  input.value = element.initial_value || element.initial_date || element.initial_time || "";
  return input;
}

async function submitModal(view, form, submit) {
  const values = {};
  let missing = false;
  for (const field of form.querySelectorAll(".field")) {
    const control = field.querySelector("select, input, textarea");
    const value = control.value.trim() === "" ? "" : control.value;
    const error = field.querySelector(".field-error");
    if (!value && !field.dataset.optional) {
      // Slack's client refuses to submit an empty required input, without asking the app.
      error.textContent = "Please complete this required field.";
      field.classList.add("has-error");
      missing = true;
      continue;
    }
    if (value) values[field.dataset.blockId] = { [field.dataset.actionId]: value };
  }
  if (missing) return;
  const alert = form.querySelector(".modal-alert");
  alert.hidden = true;
  if (submit) submit.disabled = true;
  try {
    const answer = await post("/api/submit", { view_id: view.id, values });
    if (!answer.ok) {
      alert.textContent = "We had some trouble connecting. Try again?";
      alert.hidden = false;
    }
  } finally {
    if (submit) submit.disabled = false;
    pollSoon();
  }
}

function showModalErrors(errors) {
  const root = document.getElementById("modal-root");
  for (const field of root.querySelectorAll(".field")) {
    const message = errors[field.dataset.blockId];
    const error = field.querySelector(".field-error");
    if (message !== undefined) {
      error.textContent = message;
      field.classList.add("has-error");
    } else if (error.textContent !== "Please complete this required field.") {
      error.textContent = "";
      field.classList.remove("has-error");
    }
  }
}

// ------------------------------------------------------------------ navigation and polling

function navigate(view, channel) {
  ui.view = view;
  ui.channel = channel || ui.channel;
  ui.thread = null;
  ui.lastState = "";
  ui.generation += 1;
  document.getElementById("feed").dataset.drawn = "";
  document.getElementById("jump-new").hidden = true;
  const params = new URLSearchParams({ user: me().name, view: view === "channel" ? channelName(ui.channel) : view });
  history.replaceState(null, "", `?${params}`);
  drawChrome();
  if (view === "home") post("/api/home", {}).finally(pollSoon);
  pollSoon();
}

function drawChrome() {
  for (const link of document.querySelectorAll(".sidebar nav a")) {
    const target = link.dataset.target;
    const active = target === ui.view || (ui.view === "channel" && target === `channel:${ui.channel}`);
    link.classList.toggle("active", active);
  }
  const title = document.getElementById("pane-title");
  const subtitle = document.getElementById("pane-subtitle");
  const box = document.getElementById("message-box");
  if (ui.view === "channel") {
    title.textContent = `# ${channelName(ui.channel)}`;
    subtitle.textContent = "";
    box.placeholder = `Message #${channelName(ui.channel)}`;
  } else if (ui.view === "dm") {
    title.textContent = "Baton";
    subtitle.textContent = "Direct messages from the app";
    box.placeholder = "Message Baton";
  } else {
    title.textContent = "Baton";
    subtitle.textContent = "Home";
  }
}

function pollSoon() {
  clearTimeout(ui.pollTimer);
  ui.pollTimer = setTimeout(poll, 0);
}

async function poll() {
  clearTimeout(ui.pollTimer);
  const generation = ui.generation;
  const params = new URLSearchParams({ user: ui.user, channel: currentChannel() });
  if (ui.thread) params.set("thread", ui.thread);
  try {
    const response = await fetch(`/api/state?${params}`, { cache: "no-store" });
    if (!response.ok) throw new Error(`state: ${response.status}`);
    const state = await response.json();
    document.getElementById("offline").hidden = true;
    ui.clock = { ...state.clock, at: performance.now() };
    delete state.clock;  // ticks every poll: redraw only when something else changed
    const text = JSON.stringify(state);
    if (generation === ui.generation && text !== ui.lastState) {
      ui.lastState = text;
      render(state);
    }
  } catch (error) {
    document.getElementById("offline").hidden = false;
  }
  ui.pollTimer = setTimeout(poll, POLL_MS);
}

// ------------------------------------------------------------------ the demo's clock and buttons

function drawClock() {
  const now = new Date(demoNow());
  const day = now.toLocaleDateString(undefined, { weekday: "short", month: "short", day: "numeric" });
  const time = now.toLocaleTimeString(undefined, { hour: "numeric", minute: "2-digit" });
  document.getElementById("clock-time").textContent = `${day}, ${time}`;
  document.getElementById("clock-time").setAttribute("datetime", now.toISOString());
  const speed = ui.clock.speed;
  document.getElementById("clock-speed").textContent = speed === 1 ? "real time" : `${speed}× real time`;
}

function drawControls() {
  const box = document.getElementById("controls");
  box.replaceChildren();
  for (const name of ui.workspace.controls || []) {
    const said = el("p", { class: "control-said", role: "status" });
    const button = el("button", { type: "button", class: "control", "data-control": name }, name);
    button.addEventListener("click", async () => {
      button.disabled = true;
      said.textContent = "";
      try {
        const answer = await post("/api/control", { control: name });
        said.textContent = answer.ok ? answer.said : `Failed: ${answer.error || "no answer"}`;
      } finally {
        button.disabled = false;
        pollSoon();
      }
    });
    box.append(button, said);
  }
}

async function start() {
  ui.workspace = await (await fetch("/api/workspace")).json();
  ui.emoji = new Map(Object.entries(await (await fetch("/static/emoji/shortcodes.json")).json()));
  ui.emojiImages = new Set([...ui.emoji.values()].map(emojiCode));
  drawControls();
  drawClock();
  setInterval(drawClock, 500);
  document.getElementById("team").textContent = ui.workspace.team;
  const params = new URLSearchParams(location.search);
  const wanted = params.get("user");
  const user = ui.workspace.users.find((u) => u.name === wanted || u.id === wanted) || ui.workspace.users[0];
  ui.user = user.id;

  const select = document.getElementById("user-select");
  for (const person of ui.workspace.users) {
    select.append(el("option", { value: person.id }, `${person.real_name} (@${person.name})`));
  }
  select.value = ui.user;
  select.addEventListener("change", () => {
    ui.user = select.value;
    ui.modalKey = "";
    navigate(ui.view);
  });

  const list = document.getElementById("channel-list");
  for (const channel of ui.workspace.channels) {
    list.append(el("li", {}, el("a", { href: "#", "data-target": `channel:${channel.id}` },
      el("span", { class: "hash" }, "#"), el("span", {}, channel.name))));
  }
  document.querySelector(".sidebar nav").addEventListener("click", (event) => {
    const link = event.target.closest("a[data-target]");
    if (!link) return;
    event.preventDefault();
    const [view, channel] = link.dataset.target.split(":");
    navigate(view, channel);
  });
  document.getElementById("thread-close").addEventListener("click", () => openThread(null));
  document.getElementById("jump-new").addEventListener("click", jumpToNewest);
  document.getElementById("feed").addEventListener("scroll", (event) => {
    if (atBottom(event.target)) document.getElementById("jump-new").hidden = true;
  });
  document.getElementById("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const box = document.getElementById("message-box");
    const text = box.value.trim();
    if (!text) return;
    box.value = "";
    ui.followUntil = performance.now() + FOLLOW_MS;
    await post("/api/command", { channel: currentChannel(), text });
    pollSoon();
  });

  const view = params.get("view") || "sales";
  const channel = ui.workspace.channels.find((c) => c.name === view) || ui.workspace.channels[0];
  ui.channel = channel.id;
  navigate(["dm", "home"].includes(view) ? view : "channel", channel.id);
}

start();
