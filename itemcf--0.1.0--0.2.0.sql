-- itemcf 0.1.0 -> 0.2.0.  Every change to SQL objects made after the 0.1.0 release, in the
-- order made; scripts/checks/upgrade.sh checks that 0.1.0 plus this script gives exactly the
-- objects of a fresh 0.2.0 install.
\echo Use "ALTER EXTENSION itemcf UPDATE TO '0.2.0'" to load this file. \quit
