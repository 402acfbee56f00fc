"""The board interface (firmware/board.py) is what both boards offer and all
the station code uses: firmware/board_machine.py's Board and
rigs/sim/simboard.py's SimBoard have every method with its signature and set
every attribute, and station.py and load.py ask a board for exactly these."""
import ast
import importlib.util
import inspect
import sys
import types

import pytest

from board import Board
from conftest import FIRMWARE, SIM
from simboard import SimBoard

METHODS = sorted(name for name, f in vars(Board).items() if inspect.isfunction(f))


@pytest.fixture
def machine_board(monkeypatch):
    """firmware/board_machine.py's Board, imported on a `machine` module that has only the names it imports."""
    machine = types.ModuleType("machine")
    machine.ADC = machine.I2C = machine.PWM = machine.Pin = object
    monkeypatch.setitem(sys.modules, "machine", machine)
    spec = importlib.util.spec_from_file_location("board_machine", FIRMWARE / "board_machine.py")
    board_machine = importlib.util.module_from_spec(spec)  # not in sys.modules: gone with the fake
    spec.loader.exec_module(board_machine)
    return board_machine.Board


def attributes_set(path, class_name):
    """The names a class's __init__ assigns to self.NAME."""
    tree = ast.parse(path.read_text())
    cls = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == class_name)
    init = next(node for node in cls.body if isinstance(node, ast.FunctionDef) and node.name == "__init__")
    return {target.attr for node in ast.walk(init) if isinstance(node, ast.Assign) for t in node.targets
            for target in (t.elts if isinstance(t, ast.Tuple) else [t])
            if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self"}


def test_the_interface_has_methods_and_attributes():
    assert "read_byte" in METHODS and "load_drive" in METHODS and "i2c" in Board.ATTRIBUTES


@pytest.mark.parametrize("name", METHODS)
def test_both_boards_have_each_method_with_its_signature(machine_board, name):
    for impl in (machine_board, SimBoard):
        assert callable(getattr(impl, name, None)), f"{impl.__name__} has no {name}()"
        assert inspect.signature(getattr(impl, name)) == inspect.signature(getattr(Board, name)), impl.__name__


@pytest.mark.parametrize("path, class_name", [(FIRMWARE / "board_machine.py", "Board"), (SIM / "simboard.py", "SimBoard")])
def test_both_boards_set_each_attribute(path, class_name):
    missing = set(Board.ATTRIBUTES) - attributes_set(path, class_name)
    assert not missing, f"{path.name}'s {class_name} does not set {sorted(missing)}"


def names_asked_of_a_board(path):
    """The attributes a module reads of a board: of `board`, of `x.board`, and of a local bound to either."""
    asked = set()
    for func in ast.walk(ast.parse(path.read_text())):
        if not isinstance(func, (ast.FunctionDef, ast.Module)):
            continue

        def is_board(node, boards):
            return (isinstance(node, ast.Name) and node.id in boards
                    or isinstance(node, ast.Attribute) and node.attr == "board")

        boards = {"board"}
        for node in ast.walk(func):
            if isinstance(node, ast.Assign) and is_board(node.value, boards):
                boards |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        asked |= {node.attr for node in ast.walk(func) if isinstance(node, ast.Attribute) and is_board(node.value, boards)}
    return asked


def test_the_interface_is_what_the_station_code_asks_of_a_board():
    asked = names_asked_of_a_board(FIRMWARE / "station.py") | names_asked_of_a_board(FIRMWARE / "load.py")
    assert asked == set(METHODS) | set(Board.ATTRIBUTES)
