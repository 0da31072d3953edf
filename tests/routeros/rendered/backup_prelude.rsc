# SDX desk: back up the configuration before the job
/system backup save name="sdx-nightly-vlan-42" dont-encrypt=yes
/export file="sdx-nightly-vlan-42"
:local sdxWait 0
:while ((([:len [/file find name="sdx-nightly-vlan-42.backup"]] = 0) or ([:len [/file find name="sdx-nightly-vlan-42.rsc"]] = 0)) and ($sdxWait < 30)) do={
  :delay 1s
  :set sdxWait ($sdxWait + 1)
}
:if (([:len [/file find name="sdx-nightly-vlan-42.backup"]] = 0) or ([:len [/file find name="sdx-nightly-vlan-42.rsc"]] = 0)) do={
  :error "sdx-backup: failed: the backup files did not appear within 30 s"
}
:local sdxUploaded true
:do {
  /tool fetch upload=yes mode=sftp address="backup.example.net" port=2222 user="noc" password="pa\"ss\$1" src-path="sdx-nightly-vlan-42.backup" dst-path="srv/backups/sdx-nightly-vlan-42.backup"
  /tool fetch upload=yes mode=sftp address="backup.example.net" port=2222 user="noc" password="pa\"ss\$1" src-path="sdx-nightly-vlan-42.rsc" dst-path="srv/backups/sdx-nightly-vlan-42.rsc"
} on-error={
  :set sdxUploaded false
}
/file remove [find name="sdx-nightly-vlan-42.backup"]
/file remove [find name="sdx-nightly-vlan-42.rsc"]
:if (!$sdxUploaded) do={
  :error "sdx-backup: failed: the SFTP upload to backup.example.net did not succeed"
}
:put "sdx-backup: uploaded sdx-nightly-vlan-42.backup and sdx-nightly-vlan-42.rsc to backup.example.net:srv/backups/"
