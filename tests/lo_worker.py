"""Drive a running LibreOffice through UNO: one job of operations, JSON in on stdin, JSON out on stdout.

Runs under the system Python (``/usr/bin/python3``), the only interpreter that can ``import uno``;
it needs nothing from the toolkit. ``tests/libreoffice.py`` starts soffice and calls this script.

Job::

    {"port": 2002, "connect_timeout": 30,
     "ops": [{"op": "open", "path": "/tmp/a.xlsx"},
             {"op": "set", "sheet": "审核", "cell": "B9", "value": 5},
             {"op": "calc"},
             {"op": "read", "sheet": "审核", "cells": ["D5", "D6"]},
             {"op": "save", "path": "/tmp/b.xlsx", "format": "xlsx"},
             {"op": "close"}]}

Reply: ``{"ok": true, "results": [...]}`` with one result per operation, or ``{"ok": false,
"error": "...", "at": index, "results": [...done so far]}``.

Operations
    open      path                          load a workbook (hidden); becomes the current document
    set       sheet, cell, value            number → setValue, text → setString, null → clear
    input     sheet, cell, text             setFormula(text): what typing the text would store
    type      sheet, cell, text             enter the text through the dispatcher (.uno:EnterString):
                                            honours sheet protection, not data validation (see the notes)
    keys      sheet, cell, text             type the text key by key, then Enter, as a person does:
                                            protection and data validation both refuse what they forbid
    paste     sheet, cell, rows[, mode]     copy a block (rows of numbers, texts, nulls) from a scratch
                                            workbook and paste it with the cell cursor on ``cell``:
                                            mode "all" is Ctrl+V, "values" is Paste Special → values
                                            only (Ctrl+Shift+V); the pasted cells, as ``read`` gives them
    calc                                    calculateAll()
    read      sheet, cells | range          each cell's string, value, formula and kind
    protection sheet, cells                 sheet.isProtected() and each cell's CellProtection
    validation sheet, cells                 each cell's data validation (type, operator, formulas,
                                            alert style, whether the error message shows)
    invalid   sheet                         Tools ▸ Detective ▸ Mark Invalid Data: the cells LibreOffice's
                                            own validation judges invalid (the marks are removed again)
    formulas  sheet                         every formula cell: value, string, formula, error code
    rows      sheet, first, last            row heights (1/100 mm) and whether each is "optimal" (grows
                                            with its contents)
    printed   sheet                         the sheet's page style (fit-to-pages, scale, orientation,
                                            paper) and, per printed page, the cell range it shows
    info                                    sheets (name, visible, protected), document protection,
                                            user-defined document properties
    pages                                   printed page count of every visible sheet
    save      path, format                  xlsx | xls | ods (storeToURL; the document stays open)
    pdf       path[, sheet]                 PDF of the workbook, or of one sheet only
    close                                   close the current document without saving
    ping                                    open and close an empty spreadsheet (readiness)
    config    path[, element], name, value  set an option of the running soffice (its private profile);
                                            ``element`` names a member of a configuration set

Note on ``type``: when a locked cell of a protected sheet is typed into, LibreOffice refuses and
tries to show a message box. In headless mode the first such box of a document window is dropped
silently, but a second refusal in the same open document crashes soffice (LibreOffice 7.4: a
segmentation fault in Dialog::ImplStartExecute). Refusals in different documents (open, one
refused keystroke, close; again) are fine. Type into a locked cell at most once per opened document.

Note on validation: ``.uno:EnterString`` (``type``) enters the text the way the input line does
on Enter, but LibreOffice checks data validity only in the interactive input handler, so a "无"
entered that way lands in a whole-number cell (``invalid`` then shows LibreOffice's validation
engine marking it). ``keys`` sends real key events (``XToolkitRobot``) to the document window,
made visible to take the focus: that is the path a person's typing takes, and there a refused
entry is dropped (headless, the error box is cancelled by itself — any number of times, for
validation and for protection alike). The ``org.libreoffice.UITest`` service is not in the Debian
build. Pasting never checks validity, in LibreOffice as in Excel.

Two more things crash headless soffice 7.4, so tests/libreoffice.py switches them off for the
session (``config``): the formula bar, which a document's frame builds in a timer once a dispatcher
command has activated it, from a .ui file the Debian nogui package does not ship (abort, signal 6,
at a random later moment — a save, a close); and the "replace the contents?" question when
pasting over cells that hold data.
"""

from __future__ import annotations

import json
import sys
import time
import traceback

import uno  # type: ignore[import-not-found]
from com.sun.star.beans import PropertyValue  # type: ignore[import-not-found]
from com.sun.star.connection import NoConnectException  # type: ignore[import-not-found]

FILTERS = {
    "xlsx": "Calc MS Excel 2007 XML",
    "xls": "MS Excel 97",
    "ods": "calc8",
    "pdf": "calc_pdf_Export",
}


def prop(name, value):
    p = PropertyValue()
    p.Name = name
    p.Value = value
    return p


def connect(port: int, timeout: float):
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    url = f"uno:socket,host=127.0.0.1,port={port};urp;StarOffice.ComponentContext"
    deadline = time.monotonic() + timeout
    while True:
        try:
            return resolver.resolve(url)
        except NoConnectException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _a1(row: int, col: int) -> str:
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row + 1}"


class Worker:
    def __init__(self, ctx):
        self.ctx = ctx
        self.smgr = ctx.ServiceManager
        self.desktop = self.smgr.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        self.doc = None

    # -- helpers
    def sheet(self, name):
        sheets = self.doc.Sheets
        if not sheets.hasByName(name):
            raise KeyError(f"no sheet {name!r}; sheets: {list(sheets.ElementNames)}")
        return sheets.getByName(name)

    def cell(self, op):
        return self.sheet(op["sheet"]).getCellRangeByName(op["cell"])

    @staticmethod
    def describe(cell) -> dict:
        t = cell.getType().value  # com.sun.star.table.CellContentType: EMPTY | VALUE | TEXT | FORMULA
        out = {"string": cell.getString(), "value": cell.getValue(), "formula": cell.getFormula(), "kind": t.lower()}
        if t == "FORMULA":
            out["error"] = cell.getError()
        return out

    # -- operations
    def op_open(self, op):
        self.op_close({})
        url = uno.systemPathToFileUrl(op["path"])
        self.doc = self.desktop.loadComponentFromURL(url, "_blank", 0, (prop("Hidden", True),))
        if self.doc is None:
            raise RuntimeError(f"LibreOffice could not open {op['path']}")
        return {"sheets": list(self.doc.Sheets.ElementNames)}

    def op_set(self, op):
        c = self.cell(op)
        v = op.get("value")
        if v is None:
            c.setString("")
        elif isinstance(v, bool):
            raise TypeError("set: booleans are not supported")
        elif isinstance(v, (int, float)):
            c.setValue(float(v))
        else:
            c.setString(str(v))
        return self.describe(c)

    def op_input(self, op):
        c = self.cell(op)
        c.setFormula(op["text"])
        return self.describe(c)

    def op_type(self, op):
        ctrl = self.doc.CurrentController
        ctrl.setActiveSheet(self.sheet(op["sheet"]))
        helper = self.smgr.createInstanceWithContext("com.sun.star.frame.DispatchHelper", self.ctx)
        frame = ctrl.Frame
        helper.executeDispatch(frame, ".uno:GoToCell", "", 0, (prop("ToPoint", op["cell"]),))
        helper.executeDispatch(frame, ".uno:EnterString", "", 0, (prop("StringName", op["text"]),))
        return self.describe(self.cell(op))

    def op_keys(self, op):
        """Type the text key by key into the grid, then Enter: LibreOffice's own input handler takes it,
        with the protection and data validity checks a person meets (a refused entry leaves the cell
        as it was; headless, the error box is dismissed by itself)."""
        from com.sun.star.awt import KeyEvent  # type: ignore[import-not-found]
        ctrl = self.doc.CurrentController
        frame = ctrl.Frame
        if not frame.ContainerWindow.isVisible():
            frame.ContainerWindow.setVisible(True)   # key events go to the focused window
        ctrl.setActiveSheet(self.sheet(op["sheet"]))
        helper = self.smgr.createInstanceWithContext("com.sun.star.frame.DispatchHelper", self.ctx)
        helper.executeDispatch(frame, ".uno:GoToCell", "", 0, (prop("ToPoint", op["cell"]),))
        window = frame.ComponentWindow
        window.setFocus()
        toolkit = self.smgr.createInstanceWithContext("com.sun.star.awt.Toolkit", self.ctx)
        enter = uno.getConstantByName("com.sun.star.awt.Key.RETURN")
        for ch in op["text"] + "\r":
            event = KeyEvent()
            event.Source = window
            event.KeyChar = ch
            event.KeyCode = enter if ch == "\r" else 0
            toolkit.keyPress(event)
            toolkit.keyRelease(event)
        toolkit.processEventsToIdle()
        return self.describe(self.cell(op))

    def op_paste(self, op):
        rows = op["rows"]
        mode = op.get("mode", "all")
        if mode not in ("all", "values"):
            raise ValueError(f"paste: unknown mode {mode!r}")
        width = max(len(r) for r in rows)
        data = tuple(tuple(self._datum(r[i] if i < len(r) else None) for i in range(width)) for r in rows)
        helper = self.smgr.createInstanceWithContext("com.sun.star.frame.DispatchHelper", self.ctx)
        scratch = self.desktop.loadComponentFromURL("private:factory/scalc", "_blank", 0, (prop("Hidden", True),))
        try:
            src = scratch.Sheets.getByIndex(0).getCellRangeByPosition(0, 0, width - 1, len(rows) - 1)
            src.setDataArray(data)
            for r, row in enumerate(rows):   # a null is an empty cell, not an empty text
                for c in range(width):
                    if c >= len(row) or row[c] is None:
                        src.getCellByPosition(c, r).setString("")
            # Copy: the block goes on the clipboard (as Ctrl+C would put it there) without a
            # dispatch to the scratch window, which must not outlive its document
            scratch.CurrentController.select(src)
            clip = self.smgr.createInstanceWithContext("com.sun.star.datatransfer.clipboard.SystemClipboard", self.ctx)
            clip.setContents(scratch.CurrentController.getTransferable(), None)
            ctrl = self.doc.CurrentController
            sh = self.sheet(op["sheet"])
            ctrl.setActiveSheet(sh)
            helper.executeDispatch(ctrl.Frame, ".uno:GoToCell", "", 0, (prop("ToPoint", op["cell"]),))
            if mode == "all":
                helper.executeDispatch(ctrl.Frame, ".uno:Paste", "", 0, ())
            else:
                # Edit ▸ Paste Special ▸ values only: texts, numbers and dates; formats stay
                helper.executeDispatch(ctrl.Frame, ".uno:InsertContents", "", 0,
                                       (prop("Flags", "SVD"), prop("FormulaCommand", 0), prop("SkipEmptyCells", False),
                                        prop("Transpose", False), prop("AsLink", False), prop("MoveMode", 4)))
        finally:
            scratch.close(True)
        top = sh.getCellRangeByName(op["cell"]).getCellAddress()
        out = {}
        for r in range(len(rows)):
            for c in range(width):
                cell = sh.getCellByPosition(top.Column + c, top.Row + r)
                out[cell.AbsoluteName.split(".")[-1].replace("$", "")] = self.describe(cell)
        return out

    @staticmethod
    def _datum(v):
        if v is None:
            return ""
        if isinstance(v, bool):
            raise TypeError("paste: booleans are not supported")
        if isinstance(v, (int, float)):
            return float(v)
        return str(v)

    def op_calc(self, op):
        self.doc.calculateAll()
        return None

    def op_read(self, op):
        sh = self.sheet(op["sheet"])
        out = {}
        if "range" in op:
            rng = sh.getCellRangeByName(op["range"])
            addr = rng.getRangeAddress()
            for r in range(addr.EndRow - addr.StartRow + 1):
                for c in range(addr.EndColumn - addr.StartColumn + 1):
                    cell = rng.getCellByPosition(c, r)
                    out[cell.AbsoluteName.split(".")[-1].replace("$", "")] = self.describe(cell)
        for a in op.get("cells", ()):
            out[a] = self.describe(sh.getCellRangeByName(a))
        return out

    def op_protection(self, op):
        sh = self.sheet(op["sheet"])
        cells = {}
        for a in op.get("cells", ()):
            cp = sh.getCellRangeByName(a).getPropertyValue("CellProtection")
            cells[a] = {"locked": bool(cp.IsLocked), "formula_hidden": bool(cp.IsFormulaHidden)}
        return {"sheet_protected": bool(sh.isProtected()), "cells": cells}

    def op_validation(self, op):
        sh = self.sheet(op["sheet"])
        out = {}
        for a in op.get("cells", ()):
            v = sh.getCellRangeByName(a).getPropertyValue("Validation")
            out[a] = {"type": v.Type.value, "operator": v.getOperator().value, "formula1": v.getFormula1(),
                      "formula2": v.getFormula2(), "alert": v.ErrorAlertStyle.value,
                      "show_error": bool(v.ShowErrorMessage), "ignore_blank": bool(v.IgnoreBlankCells),
                      "error_message": v.ErrorMessage}
        return out

    def op_invalid(self, op):
        sh = self.sheet(op["sheet"])
        page = sh.DrawPage
        before = page.Count
        sh.showInvalid()
        marked = []
        for i in range(before, page.Count):
            shape = page.getByIndex(i)
            if shape.ShapeType == "com.sun.star.drawing.EllipseShape":
                anchor = shape.Anchor
                name = getattr(anchor, "AbsoluteName", "")
                marked.append(name.split(".")[-1].replace("$", "") if name else "?")
        sh.clearArrows()   # Remove All Traces: the marks are drawing objects that would be saved
        return sorted(marked, key=lambda a: (int("".join(ch for ch in a if ch.isdigit()) or 0), a))

    def op_formulas(self, op):
        from com.sun.star.sheet.CellFlags import FORMULA  # type: ignore[import-not-found]
        sh = self.sheet(op["sheet"])
        out = {}
        ranges = sh.queryContentCells(FORMULA)
        cells = ranges.getCells().createEnumeration()
        while cells.hasMoreElements():
            cell = cells.nextElement()
            addr = cell.getCellAddress()
            out[_a1(addr.Row, addr.Column)] = self.describe(cell)
        return out

    def op_printed(self, op):
        sh = self.sheet(op["sheet"])
        style = self.doc.StyleFamilies.getByName("PageStyles").getByName(sh.PageStyle)
        pages = []
        for i in range(int(self.doc.getRendererCount(sh, ()))):
            r = {p.Name: p.Value for p in self.doc.getRenderer(i, sh, ())}
            src = r.get("SourceRange")
            size = r.get("PageSize")
            pages.append({"size": [size.Width, size.Height] if size is not None else None,
                          "range": [src.StartColumn, src.StartRow, src.EndColumn, src.EndRow] if src is not None else None})
        return {"scale_to_pages_x": int(style.ScaleToPagesX), "scale_to_pages_y": int(style.ScaleToPagesY),
                "scale_to_pages": int(style.ScaleToPages), "page_scale": int(style.PageScale),
                "landscape": bool(style.IsLandscape), "paper": [style.Width, style.Height], "pages": pages}

    def op_rows(self, op):
        """Row heights (1/100 mm) of rows ``first``..``last`` (1-based, as shown), and whether each is optimal."""
        rows = self.sheet(op["sheet"]).Rows
        out = {}
        for r in range(int(op["first"]) - 1, int(op["last"])):
            row = rows.getByIndex(r)
            out[str(r + 1)] = {"height": int(row.Height), "optimal": bool(row.OptimalHeight)}
        return out

    def op_info(self, op):
        sheets = []
        for i in range(self.doc.Sheets.Count):
            sh = self.doc.Sheets.getByIndex(i)
            sheets.append({"name": sh.Name, "visible": bool(sh.IsVisible), "protected": bool(sh.isProtected())})
        udp = self.doc.DocumentProperties.UserDefinedProperties
        props = {}
        for p in udp.getPropertySetInfo().getProperties():
            v = udp.getPropertyValue(p.Name)
            props[p.Name] = v if isinstance(v, (str, int, float, bool)) or v is None else str(v)
        return {"sheets": sheets, "structure_protected": bool(self.doc.isProtected()), "properties": props}

    def _page_counts(self):
        out = {}
        for i in range(self.doc.Sheets.Count):
            sh = self.doc.Sheets.getByIndex(i)
            out[sh.Name] = int(self.doc.getRendererCount(sh, ())) if sh.IsVisible else 0
        return out

    def op_pages(self, op):
        return self._page_counts()

    def op_save(self, op):
        fmt = op["format"]
        if fmt not in FILTERS or fmt == "pdf":
            raise ValueError(f"save: unknown format {fmt!r}")
        self.doc.storeToURL(uno.systemPathToFileUrl(op["path"]), (prop("FilterName", FILTERS[fmt]), prop("Overwrite", True)))
        return {"path": op["path"]}

    def op_pdf(self, op):
        counts = self._page_counts()
        filter_data = []
        pages = None
        if op.get("sheet"):
            names = list(counts)
            idx = names.index(op["sheet"])
            first = sum(counts[n] for n in names[:idx]) + 1
            last = first + counts[op["sheet"]] - 1
            pages = (first, last)
            filter_data.append(prop("PageRange", f"{first}-{last}"))
        args = [prop("FilterName", FILTERS["pdf"]), prop("Overwrite", True)]
        if filter_data:
            args.append(prop("FilterData", uno.Any("[]com.sun.star.beans.PropertyValue", tuple(filter_data))))
        uno.invoke(self.doc, "storeToURL", (uno.systemPathToFileUrl(op["path"]), tuple(args)))
        return {"path": op["path"], "pages": counts, "range": pages}

    def op_config(self, op):
        """Set one configuration item of the running soffice (its private profile): path, name, value."""
        provider = self.smgr.createInstanceWithContext("com.sun.star.configuration.ConfigurationProvider", self.ctx)
        access = provider.createInstanceWithArguments("com.sun.star.configuration.ConfigurationUpdateAccess",
                                                      (prop("nodepath", op["path"]),))
        node = access
        if op.get("element"):   # an element of a configuration set, made when missing
            if not access.hasByName(op["element"]):
                access.insertByName(op["element"], access.createInstance())
            node = access.getByName(op["element"])
        node.setPropertyValue(op["name"], op["value"])
        access.commitChanges()
        return None

    def op_ping(self, op):
        """Open and close an empty spreadsheet: proves soffice is ready (it restarts once on a new profile)."""
        doc = self.desktop.loadComponentFromURL("private:factory/scalc", "_blank", 0, (prop("Hidden", True),))
        if doc is None:
            raise RuntimeError("LibreOffice could not create a spreadsheet")
        doc.close(True)
        return None

    def op_close(self, op):
        if self.doc is not None:
            self.doc.close(True)
            self.doc = None
        return None


def main() -> int:
    job = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    results: list = []
    reply: dict
    try:
        ctx = connect(int(job["port"]), float(job.get("connect_timeout", 30)))
        worker = Worker(ctx)
    except Exception as e:  # noqa: BLE001 - reported to the caller
        reply = {"ok": False, "error": f"cannot connect to LibreOffice: {e!r}", "at": -1, "results": []}
        sys.stdout.buffer.write(json.dumps(reply).encode("utf-8"))
        return 1
    at = -1
    try:
        for at, op in enumerate(job["ops"]):
            fn = getattr(worker, "op_" + op["op"], None)
            if fn is None:
                raise ValueError(f"unknown operation {op['op']!r}")
            results.append(fn(op))
        reply = {"ok": True, "results": results}
    except Exception as e:  # noqa: BLE001
        reply = {"ok": False, "error": f"{type(e).__name__}: {e}", "at": at, "results": results,
                 "traceback": traceback.format_exc()}
        try:
            worker.op_close({})
        except Exception:  # noqa: BLE001 - soffice may be gone
            pass
    sys.stdout.buffer.write(json.dumps(reply, ensure_ascii=False).encode("utf-8"))
    return 0 if reply["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
