/* Names for controls that the admin's own scripts draw without one (WCAG 4.1.2), given
   right after those scripts have drawn them. This file is read at the end of the page, so
   its handlers run after the admin's: on "load" for SelectFilter2.js, in jQuery's "ready"
   callbacks (run all together, in order) for Select2. */
"use strict";

// filter_horizontal names each search box with a <span aria-label> inside its label; a
// plain span may not carry a name (aria-prohibited-attr), an image may, and the box gets it.
window.addEventListener("load", function () {
  document.querySelectorAll(".selector .search-label-icon[aria-label]").forEach(function (icon) {
    icon.setAttribute("role", "img");
  });
});

// autocomplete_fields: Select2's combobox, and the read-only box inside it that shows the
// choice, are named by the chosen value only, which is empty before a choice; name both by
// the field's label too.
if (window.django && window.django.jQuery) {
  window.django.jQuery(function () {
    document.querySelectorAll("select.admin-autocomplete[id]").forEach(function (select) {
      var label = document.querySelector('label[for="' + select.id + '"]');
      var container = select.nextElementSibling;
      if (!label || !container) {
        return;
      }
      label.id = label.id || select.id + "-label";
      container.querySelectorAll(".select2-selection[role=combobox], .select2-selection__rendered").forEach(function (box) {
        var current = box.getAttribute("aria-labelledby") || "";
        if (current.split(" ").indexOf(label.id) === -1) {
          box.setAttribute("aria-labelledby", (label.id + " " + current).trim());
        }
      });
    });
  });
}
