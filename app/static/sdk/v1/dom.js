// A small element builder for the settings element. Text always goes in as text nodes, never as HTML:
// e-mail addresses and calendar names come from meetergo and must not be able to inject markup.

/**
 * h("button", { type: "button", dataset: { testid: "x" }, onclick }, "Label", child, ...)
 * Attribute values of `false`, `null` or `undefined` are left out; `true` sets an empty attribute.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "dataset") {
      for (const [key, data] of Object.entries(value)) {
        if (data !== null && data !== undefined) element.dataset[key] = String(data);
      }
    } else if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "checked" || name === "disabled" || name === "selected" || name === "value") {
      element[name] = value;
    } else if (name === "className") {
      element.className = value;
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** A string usable inside an id attribute (ids are compared exactly, so only spaces matter). */
export function idPart(value) {
  return String(value).replace(/\s+/g, "_");
}

