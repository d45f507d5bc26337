/**
 * registry.ts — every command (README "Usage") with its options, help text and examples. Kept free
 * of heavy imports: a command's implementation is loaded only when it runs, so
 * `manage-secrets --help` starts fast (under 0.3 s).
 */
import type { Argv } from 'yargs'
import type { GlobalName } from './globals.js'
import type { CommandIo } from './types.js'

/** CommandModule is what a command's implementation file exports. */
export interface CommandModule {
  /** Each command declares the exact args it reads; yargs has validated them by then. */
  run(args: never, io: CommandIo): Promise<number>
}

/** CommandSpec declares one command for yargs: usage, options, examples, implementation. */
export interface CommandSpec {
  command: string
  describe: string
  examples: [string, string][]
  options?: (y: Argv) => Argv
  /** the global options this command uses, listed in its help after its own (default: all) */
  globals?: GlobalName[]
  /** the values of its `<action>` positional, one line each in its help */
  actions?: [string, string][]
  load: () => Promise<CommandModule>
}

/** playOptions are the options of every command that runs a playbook. */
export function playOptions(y: Argv): Argv {
  return y
    .option('tags', { alias: 't', type: 'string', describe: 'only run tasks with these tags (comma-separated)' })
    .option('skip-tags', { type: 'string', describe: 'skip tasks with these tags' })
    .option('extra-vars', {
      alias: 'e',
      type: 'string',
      array: true,
      describe: 'KEY=VALUE or JSON, highest precedence',
    })
}

/** monitorOptions are the options of the commands cron runs (#7): Prometheus textfile and alert hook. */
export function monitorOptions(y: Argv, failOn = true): Argv {
  const out = y
    .option('metrics-file', {
      type: 'string',
      describe: "write Prometheus textfile-collector metrics here (atomic; other jobs' samples kept)",
    })
    .option('alert-command', {
      type: 'string',
      describe:
        'run this shell command with a JSON summary on stdin when the run fails or finds something at or above --fail-on',
    })
    .option('job-name', { type: 'string', describe: 'the job label in metrics and alerts (default: the command)' })
  return failOn
    ? out.option('fail-on', {
        type: 'string',
        choices: ['critical', 'high', 'medium', 'low'],
        default: 'high',
        describe: 'alert threshold for findings',
      })
    : out
}

/** secretsOptions are the options of the commands that push secrets (setup, deploy). */
function secretsOptions(y: Argv): Argv {
  return y
    .option('bundle', { alias: 'b', type: 'string', array: true, describe: 'only these bundles (repeatable)' })
    .option('identity', {
      type: 'string',
      describe: 'private key file for a store in recipient mode (or $MANAGE_SECRETS_IDENTITY)',
    })
}

/** COMMANDS lists every command in the order `--help` shows them. */
export const COMMANDS: CommandSpec[] = [
  {
    command: 'setup',
    describe: 'first run: secrets dirs, host keys, then deploy',
    examples: [
      ['$0 setup', 'prepare every host of the inventory'],
      ['$0 setup --hosts onode1 --check', 'show what setup would do on onode1'],
      [
        '$0 setup --vault-password-file ~/.config/manage-secrets/vault.pass',
        'the password from a 0600 file instead of a prompt',
      ],
    ],
    options: (y) => monitorOptions(secretsOptions(playOptions(y))),
    load: () => import('./setup.js'),
  },
  {
    command: 'deploy',
    describe: "push each host's bundles, restart their containers",
    examples: [
      ['$0 deploy --check --diff', 'dry run with a redacted diff'],
      ['$0 deploy --hosts web --bundle aws', 'push only the aws bundle to the web group'],
      ['$0 deploy --json > deploy.json', 'one JSON document of every result'],
    ],
    options: (y) => monitorOptions(secretsOptions(playOptions(y))),
    load: () => import('./deploy.js'),
  },
  {
    command: 'rotate',
    describe: 'rotate due secrets, transactionally with rollback',
    examples: [
      ['$0 rotate --check', 'list what would rotate, change and restart'],
      ['$0 rotate --hosts onode1', 'rotate the secrets of one host'],
      ['$0 rotate --check --save-plan plan.json', 'keep the dry run (names only, 0600)'],
      ['$0 rotate --plan plan.json', 'apply exactly that plan; refused if the store or a host moved since'],
      ['$0 rotate --bundle aws --force', 'rotate every key of the aws bundle now'],
    ],
    options: (y) =>
      monitorOptions(secretsOptions(playOptions(y)))
        .option('force', {
          type: 'boolean',
          default: false,
          describe:
            'rotate every selected key, due or not; allow --hosts to split a shared bundle (the others are reported stale)',
        })
        .option('save-plan', {
          type: 'string',
          describe: 'with --check: write the plan to this file (0600, names only)',
        })
        .option('plan', {
          type: 'string',
          describe: 'apply a plan saved by --check --save-plan, refusing if anything moved since',
        }),
    load: () => import('./rotate.js'),
  },
  {
    command: 'audit',
    describe: 'check modes, owners, symlinks, drift and backups',
    examples: [
      ['$0 audit --json', 'daily audit for cron, one JSON document'],
      ['$0 audit --fix --check', 'preview the mode and owner fixes'],
      ['$0 audit --hosts onode1 --fail-on critical', 'exit 6 only for critical findings'],
      [
        '$0 audit --metrics-file /var/lib/node_exporter/textfile/manage_secrets.prom --alert-command "mail -s audit ops@example.com"',
        'from cron: metrics for Prometheus, a mail when something is found',
      ],
      [
        '$0 audit -e \'{"audit_paths": [{"path": "/etc/app/tls", "group": "app", "file_mode": "0640"}]}\'',
        'audit one more tree with its own policy',
      ],
    ],
    options: (y) =>
      monitorOptions(playOptions(y), false)
        .option('fail-on', {
          type: 'string',
          choices: ['critical', 'high', 'medium', 'low'],
          default: 'high',
          describe: 'exit 6 (and alert) when a finding is at least this severe',
        })
        .option('fix', {
          type: 'boolean',
          default: false,
          describe:
            'put modes and owners back to policy (never deletes, never follows a symlink); with --check: preview',
        }),
    load: () => import('./audit.js'),
  },
  {
    command: 'status',
    describe: 'per host: reachability, sync, ages, last runs',
    examples: [
      ['$0 status --hosts onode1', 'one host in a compact block'],
      ['$0 status --json', 'every host: reachability, bundles in sync/drifted/missing, ages, last audit and backup'],
      [
        '$0 status --metrics-file /var/lib/node_exporter/textfile/manage_secrets.prom',
        'also bundles due and hosts unreachable for Prometheus',
      ],
      ['$0 status --fail-on drift --fail-on overdue', 'for monitoring: exit 4 when a host drifted or a key is overdue'],
    ],
    options: (y) =>
      monitorOptions(y, false).option('fail-on', {
        type: 'string',
        array: true,
        choices: ['drift', 'overdue', 'stale-backup'],
        describe:
          'for monitoring: exit 4 when a host has a drifted or missing bundle (drift), an overdue key (overdue), or no backup, one older than 8 days or altered (stale-backup); an unreachable host is still 5',
      }),
    globals: ['inventory', 'hosts', 'forks', 'json', 'color', 'verbose', 'vault-password-file', 'accept-new-host-keys'],
    load: () => import('./status.js'),
  },
  {
    command: 'backup',
    describe: "verified tar.gz of each host's secrets tree",
    examples: [
      ['$0 backup', 'every host: secrets-<UTC ms>-<hex>.tar.gz in backup_dir, verified, the newest 8 kept'],
      ['$0 backup --hosts onode1 --fetch', 'and copy it to the state dir (0600)'],
      ['$0 backup --check', 'say what would be archived, write nothing'],
    ],
    options: (y) =>
      monitorOptions(playOptions(y)).option('fetch', {
        type: 'boolean',
        default: false,
        describe: 'copy each archive to <state dir>/backups/<host>/',
      }),
    load: () => import('./backup.js'),
  },
  {
    command: 'restore',
    describe: "restore a host's secrets tree from a backup",
    examples: [
      [
        '$0 restore --hosts onode1 --from latest --check',
        'preview a restore: which files differ from the newest backup',
      ],
      [
        '$0 restore --hosts onode1 --from 20261201T150203.123Z-3f9a',
        'restore that backup, restart and verify the consumers',
      ],
      ['$0 restore --hosts onode1 --from 20261201T15 --check', 'the one backup of that hour (several: exit 2, listed)'],
    ],
    options: (y) =>
      secretsOptions(playOptions(y)).option('from', {
        type: 'string',
        demandOption: true,
        describe:
          'backup to restore: its UTC timestamp or a unique prefix of it, latest, or an absolute path on the host',
      }),
    load: () => import('./restore.js'),
  },
  {
    command: 'vault <action> [files..]',
    describe: 'the encrypted store: create, view, edit, encrypt, decrypt, rekey, import, status, keygen',
    examples: [
      ['$0 vault view all-secrets', "print a bundle's key names and values to the terminal"],
      ['$0 vault import secrets.yml --vault-password-file ~/.vault_pass', 'migrate an ansible-vault file'],
      ['$0 vault create', 'generate every bundle of .secrets/manifest.yml'],
      ['$0 vault rekey --new-vault-password-file new.pass', 're-encrypt every bundle with a new password'],
      [
        '$0 vault keygen --admin alice --output ~/.config/manage-secrets/alice.key',
        'an admin key pair (recipient mode)',
      ],
    ],
    options: (y) =>
      y
        .positional('action', {
          type: 'string',
          choices: ['create', 'view', 'edit', 'encrypt', 'decrypt', 'rekey', 'import', 'status', 'keygen'],
          describe: 'what to do',
        })
        .positional('files', {
          type: 'string',
          array: true,
          describe: 'bundle names, or files for encrypt/import/view',
        })
        .option('bundle', { alias: 'b', type: 'string', describe: 'encrypt/import: the bundle to put the values in' })
        .option('output', {
          alias: 'o',
          type: 'string',
          describe: 'decrypt: plaintext file (0600) or - ; keygen: private key file',
        })
        .option('reveal', {
          type: 'boolean',
          default: false,
          describe: 'view: print values even when stdout is not a terminal',
        })
        .option('force', { type: 'boolean', default: false, describe: 'replace an existing output or public key file' })
        .option('new-vault-password-file', {
          type: 'string',
          describe: 'rekey: file holding the new password (mode 0600)',
        })
        .option('source-password-file', {
          type: 'string',
          array: true,
          describe: "import/view: ansible-vault password file(s), if not the store's",
        })
        .option('identity', {
          type: 'string',
          describe: 'private key file for recipient mode (or $MANAGE_SECRETS_IDENTITY)',
        })
        .option('admin', { type: 'string', describe: 'keygen: make a key pair for this admin' })
        .option('host', { type: 'string', describe: 'keygen: make a key pair for this host' }),
    globals: ['inventory', 'json', 'color', 'verbose', 'vault-password-file'],
    actions: [
      ['create', 'generate every bundle of the manifest (or the named ones)'],
      ['view', "print a bundle's key names and values (values only on a terminal, or with --reveal)"],
      ['edit', 'edit a bundle in $EDITOR through a 0600 file removed afterwards'],
      ['encrypt', 'put the values of a plaintext file into a bundle (--bundle)'],
      ['decrypt', 'write a bundle as plaintext to --output (0600) or -'],
      ['rekey', 're-encrypt every bundle under --new-vault-password-file'],
      ['import', 'migrate ansible-vault and .env files into bundles'],
      ['status', 'each bundle: version, keys, last rotation, next due date'],
      ['keygen', 'make a key pair for an --admin or a --host (recipient mode)'],
    ],
    load: () => import('./vault.js'),
  },
  {
    command: 'play <playbook>',
    describe: 'run any playbook against the inventory',
    examples: [
      ['$0 play playbooks/deploy.yml --hosts web --check', 'dry run of a playbook on the web group'],
      ['$0 play site.yml --tags secrets -e owner=root', 'only tasks tagged secrets, with an extra var'],
    ],
    options: playOptions,
    load: () => import('./play.js'),
  },
  {
    command: 'hosts [pattern]',
    describe: 'list the hosts an Ansible pattern matches',
    examples: [
      ['$0 hosts --hosts "web:&prod:!web03"', 'web hosts in prod, except web03'],
      ['$0 hosts "db[0:2]" --json', 'the first three db hosts, as JSON'],
      ['$0 hosts onode1 --vars', 'the merged variables of onode1'],
    ],
    options: (y) =>
      y
        .positional('pattern', { type: 'string', describe: 'host pattern (same as --hosts)' })
        .option('vars', { type: 'boolean', default: false, describe: "print each host's merged variables" }),
    globals: ['inventory', 'hosts', 'json', 'color', 'verbose'],
    load: () => import('./hosts.js'),
  },
  {
    command: 'schedule <action>',
    describe: 'cron daemon, crontab/systemd units, next runs',
    examples: [
      [
        '$0 schedule run',
        'the daemon: run the jobs of cron/schedule.yml, never two at once; SIGTERM waits for the running job',
      ],
      ['$0 schedule next --count 3', 'the next three run times of every job'],
      ['$0 schedule print-crontab > /etc/cron.d/manage-secrets', 'the same jobs for the system cron'],
      ['$0 schedule print-systemd --user root', 'a .service and a .timer per job'],
    ],
    options: (y) =>
      y
        .positional('action', {
          type: 'string',
          choices: ['run', 'next', 'print-crontab', 'print-systemd'],
          describe: 'what to do',
        })
        .option('schedule', {
          type: 'string',
          describe: 'the schedule file (default: ./cron/schedule.yml, else the one shipped)',
        })
        .option('count', { type: 'number', default: 5, describe: 'next: how many run times per job' })
        .option('bin', {
          type: 'string',
          describe: 'print-*: the installed program (default /usr/local/bin/manage-secrets)',
        })
        .option('log-file', {
          type: 'string',
          describe: 'print-crontab: where job output is appended (default /var/log/manage-secrets.log)',
        })
        .option('user', { type: 'string', describe: 'print-systemd: User= of the services' }),
    globals: ['inventory', 'json', 'color', 'verbose'],
    actions: [
      ['run', 'the daemon: run the jobs of the schedule, never two at once'],
      ['next', 'the next run times of every job'],
      ['print-crontab', 'the same jobs as a crontab'],
      ['print-systemd', 'a .service and a .timer per job'],
    ],
    load: () => import('./schedule.js'),
  },
  {
    command: 'journal <action>',
    describe: 'show or verify the hash-chained run journal',
    examples: [
      ['$0 journal verify', 'check the hash chain: names any edited, deleted, inserted or reordered line (exit 3)'],
      ['$0 journal show --since 7d', 'the runs of the last week, with their hosts'],
      ['$0 journal show --json --since 2026-11-01', 'the same as JSON (names only, never values)'],
    ],
    options: (y) =>
      y
        .positional('action', { type: 'string', choices: ['verify', 'show'], describe: 'what to do' })
        .option('since', {
          type: 'string',
          describe: 'show: only entries since an ISO date or a duration back (7d, 12h)',
        }),
    globals: ['inventory', 'json', 'color', 'verbose'],
    actions: [
      ['verify', 'check the hash chain (exit 3 naming each broken line)'],
      ['show', 'the runs and their hosts (--since, --json)'],
    ],
    load: () => import('./journal.js'),
  },
  {
    command: 'load [cmd..]',
    describe: 'container side: exec a command with the bundles',
    examples: [
      [
        '$0 load --secrets-dir /app/secrets --password-file /app/vault-password -- node server.js',
        'entrypoint of a container run with -v /opt/callableapis/vault-password:/app/vault-password:ro -v /opt/callableapis/secrets:/app/secrets:ro: decrypt every bundle, start the service with them',
      ],
      [
        '$0 load --secrets-dir /app/secrets --identity /app/host.key --bundle aws --bundle cloudflare -- ./deploy.sh',
        'recipient mode, only two bundles',
      ],
      [
        '$0 load --secrets-dir /app/secrets --password-file /app/vault-password --allow-missing -- node server.js',
        'start even when the mounts are absent (one warning each)',
      ],
      [
        '$0 load --secrets-dir /app/secrets --password-file /app/vault-password --format env',
        'print KEY=VALUE lines instead of running a command',
      ],
      [
        '$0 load --secrets-dir /app/secrets --password-file /app/vault-password --allow-key NODE_OPTIONS -- node server.js',
        'let a bundle set NODE_OPTIONS (loader keys such as NODE_OPTIONS, LD_PRELOAD, PATH are refused otherwise)',
      ],
    ],
    options: (y) =>
      y
        .positional('cmd', {
          type: 'string',
          array: true,
          describe: 'the command to run and its arguments (put -- before it)',
        })
        .option('secrets-dir', {
          type: 'string',
          demandOption: true,
          describe: 'folder of <bundle>.env files (encrypted or plaintext env)',
        })
        .option('password-file', {
          type: 'string',
          describe:
            "the host's vault password file, mode 0600 (password mode; or --vault-password-file, $MANAGE_SECRETS_VAULT_PASSWORD_FILE)",
        })
        .option('identity', {
          type: 'string',
          describe: "the host's armoured private key file, mode 0600 (recipient mode; or $MANAGE_SECRETS_IDENTITY)",
        })
        .option('bundle', {
          alias: 'b',
          type: 'string',
          describe: 'load only this bundle (repeatable); default: every *.env',
        })
        .option('allow-missing', {
          type: 'boolean',
          default: false,
          describe: 'warn and run anyway when the dir, a bundle or a credential file is missing',
        })
        .option('allow-key', {
          type: 'string',
          describe:
            'let bundles set this loader key (NODE_OPTIONS, LD_*, PATH, PYTHON*, …; refused otherwise); repeatable',
        })
        .option('format', {
          type: 'string',
          choices: ['env', 'json'],
          describe: 'print the values (KEY=VALUE lines or one JSON object) instead of running a command',
        }),
    globals: ['color', 'verbose', 'vault-password-file'],
    load: () => import('./load.js'),
  },
]
