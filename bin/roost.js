#!/usr/bin/env -S node --
'use strict';
require('../dist/cli.cjs');
