// Sortable tables: a click on a column's header sorts the rows by it (numbers as numbers,
// "1,234" and "0.5 / 0.2" by their first number; a second click reverses). Material for
// MkDocs swaps pages without reloading, so tables are set up on each page it shows.
function sortableTables() {
  document.querySelectorAll("article table").forEach(function (table) {
    if (table.dataset.sortable) return;
    table.dataset.sortable = "yes";
    table.querySelectorAll("thead th").forEach(function (header, column) {
      header.style.cursor = "pointer";
      header.title = "Sort by this column";
      header.addEventListener("click", function () {
        var ascending = header.getAttribute("aria-sort") !== "ascending";
        table.querySelectorAll("thead th").forEach(function (h) { h.removeAttribute("aria-sort"); });
        header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        function key(row) {
          var text = row.cells[column].textContent.trim();
          var number = parseFloat(text.replace(/,/g, ""));
          return isNaN(number) ? text.toLowerCase() : number;
        }
        rows.sort(function (a, b) {
          var x = key(a), y = key(b);
          if (typeof x !== typeof y) return typeof x === "number" ? -1 : 1;  // numbers first
          return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
}
if (typeof document$ !== "undefined") {
  document$.subscribe(sortableTables);  // Material's page-change observable
} else {
  document.addEventListener("DOMContentLoaded", sortableTables);
}
