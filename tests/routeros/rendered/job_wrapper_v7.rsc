# SDX desk delivery dlv-7f3a
:global sdxDeliveries
:if ([:typeof $sdxDeliveries] != "array") do={
  :set sdxDeliveries [:toarray ""]
}
:local sdxKey "ddlv-7f3a"
:local sdxUrl "https://desk.example.net/agent/v1/result/dlv-7f3a"
:local sdxHeaders "Authorization: Bearer Zm9vYmFyLXRva2Vu_01,Content-Type: application/json"
:local sdxStatus "completed"
:local sdxOutput ""
:local sdxPost false
:local sdxSeen ($sdxDeliveries->$sdxKey)
:if ([:typeof $sdxSeen] = "str") do={
  :log warning "sdx: delivery dlv-7f3a already ran here; not running it again"
  :if ($sdxSeen != "running") do={
    :set sdxStatus $sdxSeen
    :set sdxOutput ("sdx: repeated delivery: this device already ran it; " . \
      "the first output is not kept")
    :set sdxPost true
  }
} else={
  :if ([:len $sdxDeliveries] >= 200) do={
    :set sdxDeliveries [:toarray ""]
  }
  :set ($sdxDeliveries->$sdxKey) "running"
  :local sdxJob ":onerror sdxJobError in={\n# SDX desk: back up the configuration before the job\n/system backup save name=\"sdx-nightly-vlan-42\" dont-encrypt=yes\n/export file=\"sdx-nightly-vlan-42\"\n:local sdxWait 0\n:while ((([:len [/file find name=\"sdx-nightly-vlan-42.backup\"]] = 0) or ([:len [/file find name=\"sdx-nightly-vlan-42.rsc\"]] = 0)) and (\$sdxWait < 30)) do={\n  :delay 1s\n  :set sdxWait (\$sdxWait + 1)\n}\n:if (([:len [/file find name=\"sdx-nightly-vlan-42.backup\"]] = 0) or ([:len [/file find name=\"sdx-nightly-vlan-42.rsc\"]] = 0)) do={\n  :error \"sdx-backup: failed: the backup files did not appear within 30 s\"\n}\n:local sdxUploaded true\n:do {\n  /tool fetch upload=yes mode=sftp address=\"backup.example.net\" port=2222 user=\"noc\" password=\"pa\\\"ss\\\$1\" src-path=\"sdx-nightly-vlan-42.backup\" dst-path=\"srv/backups/sdx-nightly-vlan-42.backup\"\n  /tool fetch upload=yes mode=sftp address=\"backup.example.net\" port=2222 user=\"noc\" password=\"pa\\\"ss\\\$1\" src-path=\"sdx-nightly-vlan-42.rsc\" dst-path=\"srv/backups/sdx-nightly-vlan-42.rsc\"\n} on-error={\n  :set sdxUploaded false\n}\n/file remove [find name=\"sdx-nightly-vlan-42.backup\"]\n/file remove [find name=\"sdx-nightly-vlan-42.rsc\"]\n:if (!\$sdxUploaded) do={\n  :error \"sdx-backup: failed: the SFTP upload to backup.example.net did not succeed\"\n}\n:put \"sdx-backup: uploaded sdx-nightly-vlan-42.backup and sdx-nightly-vlan-42.rsc to backup.example.net:srv/backups/\"\n/interface vlan add name=vlan42 vlan-id=42 interface=bridge\n:put \"vlan \$[:len [/interface vlan find]]\"\n:put \"SDX-DONE-dlv-7f3a\"\n} do={\n:put (\"SDX-FAILED-dlv-7f3a: \" . \$sdxJobError)\n}\n"
  :onerror sdxError in={
    :set sdxOutput [:execute script=$sdxJob as-string]
  } do={
    :set sdxOutput ($sdxOutput . "\n" . "SDX-FAILED-dlv-7f3a: " . $sdxError)
  }
  :local sdxFailedAt [:find $sdxOutput "SDX-FAILED-dlv-7f3a: "]
  :local sdxDoneAt [:find $sdxOutput "SDX-DONE-dlv-7f3a"]
  :if ([:typeof $sdxFailedAt] = "num") do={
    :set sdxStatus "failed"
    :local sdxMessageAt ($sdxFailedAt + 21)
    :set sdxOutput ([:pick $sdxOutput 0 $sdxFailedAt] . "error: " . \
      [:pick $sdxOutput $sdxMessageAt [:len $sdxOutput]])
  } else={
    :if ([:typeof $sdxDoneAt] = "num") do={
      :set sdxOutput [:pick $sdxOutput 0 $sdxDoneAt]
    } else={
      :set sdxStatus "failed"
      :set sdxOutput ($sdxOutput . \
        "\nerror: the job did not finish (a syntax error, or it was stopped)")
    }
  }
  :set ($sdxDeliveries->$sdxKey) $sdxStatus
  :set sdxPost true
}
:if ($sdxPost) do={
  :local sdxLength [:len $sdxOutput]
  :if ($sdxLength > 60000) do={
    :set sdxOutput ([:pick $sdxOutput 0 60000] . \
      "\n[sdx: output truncated: " . $sdxLength . " bytes, first 60000 kept]")
  }
  :local sdxJson do={
    :local text [:tostr $1]
    :local result ""
    :local hex "0123456789ABCDEF"
    :local control ("\01\02\03\04\05\06\07\08\09\0A\0B\0C\0D\0E\0F" . \
      "\10\11\12\13\14\15\16\17\18\19\1A\1B\1C\1D\1E\1F")
    :local length [:len $text]
    :if ($length > 0) do={
      :for i from=0 to=($length - 1) do={
        :local char [:pick $text $i]
        :local out $char
        :if ($char = "\"") do={ :set out "\\\"" }
        :if ($char = "\\") do={ :set out "\\\\" }
        :if ($char = "\n") do={ :set out "\\n" }
        :if ($char = "\r") do={ :set out "\\r" }
        :if ($char = "\t") do={ :set out "\\t" }
        :if ($out = $char) do={
          :local code [:find $control $char]
          :if ([:typeof $code] = "num") do={
            :set code ($code + 1)
            :set out ("\\u00" . [:pick $hex ($code / 16)] . [:pick $hex ($code % 16)])
          }
        }
        :set result ($result . $out)
      }
    }
    :return $result
  }
  :local sdxBody ("{\"status\":\"" . $sdxStatus . "\",\"output\":\"" . \
    [$sdxJson $sdxOutput] . "\"}")
  :onerror sdxPostError in={
    /tool fetch url=$sdxUrl http-method=post http-header-field=$sdxHeaders \
      http-data=$sdxBody output=none
  } do={
    :log error ("sdx: the result could not be posted: " . $sdxPostError)
  }
}
