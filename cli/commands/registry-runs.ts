/**
 * registry-runs.ts — the commands that run playbooks on the hosts (README "Usage"): setup, deploy,
 * rotate, audit, status, backup and restore, in the order `--help` shows them (commands/registry.ts
 * lists them first). Like the registry, free of heavy imports: each implementation loads when it runs.
 */
import { monitorOptions, playOptions, secretsOptions, type CommandSpec } from './spec.js'

/** RUN_COMMANDS are the commands that work on the hosts of an inventory. */
export const RUN_COMMANDS: CommandSpec[] = [
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
      ['$0 audit --leaks', "also hunt each host's own values in plaintext (needs the vault password)"],
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
        })
        .option('leaks', {
          type: 'boolean',
          default: false,
          describe:
            "also hunt each host's own current and previous values in plaintext under leak_paths and in its consumer containers, and the files vault import read (docs/leaks.md)",
        })
        .option('identity', {
          type: 'string',
          describe: 'with --leaks: private key file for a store in recipient mode (or $MANAGE_SECRETS_IDENTITY)',
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
      ['$0 status --html /var/www/html/fleet.html', 'also the fleet at a glance: one self-contained page, no script'],
    ],
    options: (y) =>
      monitorOptions(y, false)
        .option('html', {
          type: 'string',
          requiresArg: true,
          describe:
            'also write the fleet page to FILE: one self-contained HTML file (mode 0644, written atomically), readable from file://',
        })
        .option('fail-on', {
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
      [
        '$0 restore --hosts onode1 --from-control latest',
        'a lost host: send the newest copy backup --fetch made, verified first, and restore it',
      ],
    ],
    options: (y) =>
      secretsOptions(playOptions(y))
        .option('from', {
          type: 'string',
          requiresArg: true,
          describe:
            'backup to restore: its UTC timestamp or a unique prefix of it, latest, or an absolute path on the host',
        })
        .option('from-control', {
          type: 'string',
          requiresArg: true,
          describe:
            "instead of --from: a copy on this machine (latest: the newest in <state dir>/backups/<host>/, or a file), verified against the journal's sha256, sent and restored; one host",
        }),
    load: () => import('./restore.js'),
  },
]
