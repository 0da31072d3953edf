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
  :do {
/interface vlan add name=vlan42 vlan-id=42 interface=bridge
:put "vlan $[:len [/interface vlan find]]"
  } on-error={
    :set sdxStatus "failed"
  }
  :set sdxOutput "sdx: RouterOS 6 cannot capture the output of a job"
  :if ($sdxStatus = "failed") do={
    :set sdxOutput ($sdxOutput . \
      "\nerror: the job stopped with an error (RouterOS 6 gives no message)")
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
  :do {
    /tool fetch url=$sdxUrl http-method=post http-header-field=$sdxHeaders \
      http-data=$sdxBody keep-result=no
  } on-error={
    :log error "sdx: the result could not be posted"
  }
}
