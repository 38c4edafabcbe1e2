#!/usr/bin/env -S node --
import '../dist/bundle/main.js';
