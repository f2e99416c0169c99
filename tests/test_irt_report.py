"""The HTML report: one self-contained file whose sections are all there and whose item table
holds the model's numbers; read as text, and in a real browser (headless chromium, skipped when
chromium, chromedriver or selenium are missing)."""

import html.parser
import shlex
import shutil

import numpy as np
import pytest

from latentvi import cli, irt
from latentvi.irt.report import SECTIONS

ONE_FACTOR_SECTIONS = [name for name in SECTIONS if name != "factor-correlations"]


class _Page(html.parser.HTMLParser):
    """What the tests read from a report: element ids, image sources, outside references and
    the cells of every table (row header, then (text, data-value) per cell)."""

    def __init__(self, text):
        super().__init__()
        self.ids, self.sources, self.tags, self.tables = [], [], set(), {}
        self._table, self._row, self._cell = None, None, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        for name in ("src", "href"):
            if name in attrs:
                self.sources.append((tag, name, attrs[name]))
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("id"), {"head": [], "rows": []})
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("th", "td") and self._row is not None:
            self._cell = [tag, "", attrs.get("data-value")]

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1] += data

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self._cell is not None:
            self._row.append(tuple(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            is_head = all(kind == "th" for kind, _, _ in self._row)
            if is_head and not self._table["head"]:
                self._table["head"] = [text for _, text, _ in self._row[1:]]
            else:
                self._table["rows"].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None


@pytest.fixture(scope="module")
def lsat7_report(lsat7, lsat7_2pl, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "lsat7.html"
    assert irt.report(lsat7_2pl, lsat7, path) == path
    return lsat7_2pl, lsat7, path


@pytest.fixture(scope="module")
def two_factor_report(tmp_path_factory):
    """A confirmatory 2-factor 2PL with 5% missing answers (a short fixed fit: the report
    reads whatever the model holds)."""
    data, truth = irt.simulate(300, 6, 2, factor_corr=0.3, missing_rate=0.05, seed=1)
    model = irt.ItemFactorModel(2, pattern=truth["pattern"], seed=0).fit(data, verbose=0,
                                                                           epochs=30)
    path = tmp_path_factory.mktemp("report") / "two_factors.html"
    irt.report(model, data, path)
    return model, data, path


@pytest.fixture(scope="module", params=["lsat7", "two_factors"])
def written(request, lsat7_report, two_factor_report):
    model, data, path = lsat7_report if request.param == "lsat7" else two_factor_report
    sections = ONE_FACTOR_SECTIONS if model.n_factors == 1 else list(SECTIONS)
    return model, data, path, sections


def test_report_is_one_self_contained_file(written):
    _, _, path, sections = written
    text = path.read_text(encoding="utf-8")
    assert 'src="http' not in text and 'href="http' not in text
    page = _Page(text)
    # No script and no linked style sheet; the only references are embedded images, the
    # empty icon and links within the page.
    assert "script" not in page.tags
    for tag, name, value in page.sources:
        assert (value.startswith("data:image/png;base64,") if tag == "img"
                else value == "data:," if tag == "link" else value.startswith("#")), value
    assert sum(tag == "img" for tag, _, _ in page.sources) >= 4  # training, curves, info, scores
    assert [i for i in page.ids if i in SECTIONS] == sections
    assert [name for name in path.parent.iterdir() if name.suffix == ".partial"] == []


def test_items_table_holds_the_items_to_full_precision(written):
    model, _, path, _ = written
    table = _Page(path.read_text(encoding="utf-8")).tables["items-table"]
    assert table["head"] == list(model.items_.columns)
    assert [row[0][1] for row in table["rows"]] == [str(item) for item in model.items_.index]
    values = np.array([[float(value) for _, _, value in row[1:]] for row in table["rows"]])
    np.testing.assert_allclose(values, model.items_.to_numpy(), rtol=0, atol=1e-9)
    shown = [[text for _, text, _ in row[1:]] for row in table["rows"]]
    assert shown == [[f"{v:.3f}" for v in row] for row in model.items_.to_numpy()]


def test_summary_counts_answers_and_missing(two_factor_report):
    _, data, path = two_factor_report
    table = _Page(path.read_text(encoding="utf-8")).tables["data-table"]
    assert table["head"] == ["0", "1", "answered", "missing"]
    for row, item in zip(table["rows"], data.columns):
        counts = data[item].value_counts()
        assert [int(value) for _, _, value in row[1:3]] == [counts[0], counts[1]]
        assert int(row[3][2]) == data[item].notna().sum()
        assert float(row[4][2]) == pytest.approx(data[item].isna().mean(), abs=1e-12)


def test_standard_errors_and_fit_sit_beside_the_items(lsat7_report):
    model, data, path = lsat7_report
    page = _Page(path.read_text(encoding="utf-8"))
    errors = model.standard_errors(data).items
    values = [[float(value) for _, _, value in row[1:]]
              for row in page.tables["items-se-table"]["rows"]]
    np.testing.assert_allclose(values, errors.to_numpy(), rtol=1e-9)
    statistics = model.fit_statistics(data)
    m2 = {row[0][1]: float(row[1][2]) for row in page.tables["fit-statistics-table"]["rows"]}
    assert m2["M2"] == pytest.approx(statistics.M2, rel=1e-12) and m2["df"] == statistics.df
    assert len(page.tables["item-fit-table"]["rows"]) == len(model.items_)
    assert "factor-corr" not in " ".join(page.ids)


def test_unrotated_exploratory_model_notes_that_it_has_no_standard_errors(tmp_path):
    data, _ = irt.simulate(300, 6, 2, seed=2)
    model = irt.ItemFactorModel(2, rotation=None, seed=0).fit(data, verbose=0, epochs=5)
    path = irt.report(model, data, tmp_path / "unrotated.html")
    text = path.read_text(encoding="utf-8")
    page = _Page(text)
    assert "items-se-table" not in page.ids and "items-table" in page.ids
    assert "No standard errors: " in text and "identified only up to a rotation" in text


def test_refuses_to_overwrite(lsat7_report, tmp_path):
    model, data, _ = lsat7_report
    path = tmp_path / "report.html"
    path.write_text("the user's own file")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        irt.report(model, data, path)
    assert path.read_text() == "the user's own file"
    irt.report(model, data, path, overwrite=True, title="LSAT7 again")
    assert "<title>LSAT7 again</title>" in path.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_cli_report_writes_report_html_with_the_command(tmp_path):
    data, _ = irt.simulate(300, 6, 1, seed=0)
    data.to_csv(tmp_path / "responses.csv", index_label="person")
    argv = ["fit", str(tmp_path / "responses.csv"), "--out", str(tmp_path / "results"),
            "--epochs", "5", "--seed", "0", "--id-column", "person", "--no-plots", "--quiet",
            "--report"]
    assert cli.main(argv) == 0
    path = tmp_path / "results" / "report.html"
    page = _Page(path.read_text(encoding="utf-8"))
    assert [i for i in page.ids if i in SECTIONS] == ONE_FACTOR_SECTIONS
    assert shlex.join(["latentvi", *argv]) in path.read_text(encoding="utf-8")
    assert "items-se-table" in page.ids
    assert not (tmp_path / "results" / "item_curves.png").exists()  # --no-plots: no PNG files


# -- in a browser -------------------------------------------------------------------------------
def _chromium():
    """(browser, driver) executables, or a pytest skip saying what is missing."""
    webdriver = pytest.importorskip("selenium.webdriver",
                                    reason="selenium is not installed (pip install selenium)")
    browser = next(filter(None, map(shutil.which, ("chromium", "chromium-browser",
                                                   "google-chrome"))), None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        pytest.skip("chromium or chromedriver not found (Debian: apt-get install chromium "
                    "chromium-driver)")
    return webdriver, browser, driver


@pytest.fixture(scope="module")
def browser():
    webdriver, binary, driver_path = _chromium()
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,1024"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(service=Service(driver_path), options=options)
    except WebDriverException as error:  # a browser that cannot start here
        pytest.skip(f"headless chromium did not start: {str(error).splitlines()[0]}")
    yield driver
    driver.quit()


ITEMS_TABLE = """return Array.from(document.querySelectorAll('#items-table tbody tr')).map(
    row => Array.from(row.children).map(cell => cell.textContent.trim()));"""
FIGURES = """return Array.from(document.querySelectorAll('img, svg')).map(figure => [
    figure.tagName.toLowerCase(), figure.naturalWidth === undefined ? figure.clientWidth :
    figure.naturalWidth, figure.clientWidth]);"""


def test_report_in_a_browser(browser, written):
    model, _, path, sections = written
    browser.get(path.resolve().as_uri())
    assert browser.title.startswith("Item factor model")
    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert severe == []
    for name in sections:
        assert browser.find_element("id", name).is_displayed(), name
    figures = browser.execute_script(FIGURES)
    assert len(figures) >= 4
    for tag, natural_width, client_width in figures:
        assert natural_width > 0 and client_width > 0, (tag, natural_width, client_width)
    rows = browser.execute_script(ITEMS_TABLE)
    assert [row[0] for row in rows] == [str(item) for item in model.items_.index]
    assert [row[1:] for row in rows] == [[f"{v:.3f}" for v in row]
                                         for row in model.items_.to_numpy()]
    shown = np.array([[float(text) for text in row[1:]] for row in rows])
    np.testing.assert_allclose(shown, model.items_.to_numpy(), rtol=0, atol=5e-4 + 1e-12)
