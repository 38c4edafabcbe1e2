import test from 'ava';
import { renderServiceUnit, systemdWord, userUnitDir } from '../../src/cli/service-unit.js';

test('unit file words: plain paths stay bare; blanks and quotes are quoted; % and $ are doubled', (t) => {
  t.is(systemdWord('/usr/bin/node'), '/usr/bin/node');
  t.is(systemdWord('/opt/my roost/bin/roost.js'), '"/opt/my roost/bin/roost.js"');
  t.is(systemdWord('/a"b\\c'), '"/a\\"b\\\\c"');
  t.is(systemdWord('/data/100%/$HOME'), '/data/100%%/$$HOME');
  t.is(systemdWord(''), '""');
  t.is(systemdWord('XDG_DATA_HOME=/data/$x 100%', false), '"XDG_DATA_HOME=/data/$x 100%%"', 'no variable expansion in Environment=');
});

test('the unit runs this install\'s node and script, pins the storage the CLI uses, and lives under XDG_CONFIG_HOME', (t) => {
  const unit = renderServiceUnit({ nodePath: '/usr/bin/node', scriptPath: '/opt/my roost/bin/roost.js', env: { XDG_DATA_HOME: '/d', ROOST_RUNTIME: 'runc', HOME: '/h' } });
  t.regex(unit, /^ExecStart=\/usr\/bin\/node -- "\/opt\/my roost\/bin\/roost\.js" daemon$/m);
  t.deepEqual(unit.split('\n').filter((l) => l.startsWith('Environment=')), ['Environment=XDG_DATA_HOME=/d', 'Environment=ROOST_RUNTIME=runc']);
  for (const line of ['Delegate=yes', 'Restart=on-failure', 'KillMode=process', 'WantedBy=default.target']) t.true(unit.split('\n').includes(line), line);
  t.is(userUnitDir({ XDG_CONFIG_HOME: '/c', HOME: '/h' }), '/c/systemd/user');
  t.is(userUnitDir({ HOME: '/h' }), '/h/.config/systemd/user');
});
