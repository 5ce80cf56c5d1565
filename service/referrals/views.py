"""Referral pages: dashboard, intake, inbox, the referral itself."""

from __future__ import annotations

from flask import Blueprint
from flask import render_template
from flask_login import login_required

blueprint = Blueprint("referrals", __name__)


@blueprint.route("/")
@login_required
def dashboard() -> str:
    return render_template("referrals/dashboard.html")


@blueprint.route("/referrals/new")
@login_required
def new() -> str:
    return render_template("referrals/dashboard.html")


@blueprint.route("/referrals/received")
@login_required
def inbox() -> str:
    return render_template("referrals/dashboard.html")
