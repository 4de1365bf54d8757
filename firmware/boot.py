"""Runs first on every start: the board's early hardware setup, before the firmware."""
import board

board.boot()
